//! Bounding a GraphQL document before anything expensive (or recursive)
//! runs over it.
//!
//! Three dangers, each bounded here rather than left to the parser or the
//! validator:
//! - **Nesting.** The parser and the validator recurse once per bracket
//!   (`[[[…]]]` in a value, `{ { … } }` in a selection): 5,000 levels
//!   overflowed a worker's stack and aborted the process. [`prescan`] counts
//!   brackets in the raw text, skipping strings and comments, and refuses a
//!   document before it is parsed. The same scan bounds the JSON body that
//!   carries it (variables are values too).
//! - **Fragment fan-out.** Four fragments that each spread the next a few
//!   times describe thousands of fields in 1.6 KB; validating them cost
//!   seconds of CPU that no timeout can interrupt. [`measure`] counts the
//!   fields *with fragments expanded*, memoised per fragment and with the
//!   spread chain bounded, so refusing costs microseconds.
//! - **Introspection fan-out.** `__schema { types { fields { type { fields
//!   … } } } }` multiplies by the size of the schema at each list. Inside
//!   introspection we bound how many list fields nest on one path instead
//!   of the selection depth, so the standard introspection query (whose
//!   `ofType` chain is deeper than [`MAX_DEPTH`]) is answered while the
//!   circular one is refused.

use std::collections::HashMap;

use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};

/// Deepest bracket nesting (`{`, `[`, `(`) a document or its JSON body may
/// have. The standard introspection query nests 14 deep; ordinary queries
/// fewer than 10.
pub const MAX_NESTING: usize = 40;
/// Most lexical tokens (names, numbers, strings, punctuators) a document
/// may have. Parsing costs about three microseconds per token (measured:
/// 3,000 tokens took 9 ms to parse and refuse), so this bounds what refusing
/// any document can cost to about 3 ms; the standard introspection query has
/// about 160 tokens, ordinary queries fewer than 300.
pub const MAX_TOKENS: usize = 1_000;
/// Deepest selection nesting outside introspection.
pub const MAX_DEPTH: usize = 12;
/// Most field selections one operation may expand to (fragments expanded),
/// and most written in the whole document.
pub const MAX_FIELDS: usize = 300;
/// Most aliased fields, fragments expanded (alias overloading).
pub const MAX_ALIASES: usize = 30;
/// Most selections written in the document (fields, spreads and inline
/// fragments), so a document of empty-ish fragments is bounded too.
pub const MAX_SELECTIONS: usize = 1_000;
/// Most introspection list fields (`types`, `fields`, `args`, …) nested on
/// one path; the standard introspection query needs 3 (types > fields > args).
pub const MAX_INTROSPECTION_LISTS: usize = 3;

/// Introspection fields that answer lists: each one nested in another
/// multiplies the answer by the size of the schema.
const INTROSPECTION_LISTS: &[&str] =
    &["types", "directives", "fields", "args", "inputFields", "interfaces", "possibleTypes", "enumValues"];

/// How text is tokenised for [`prescan`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Syntax {
    /// GraphQL: `"…"` and `"""…"""` strings, `#` comments to end of line.
    GraphQL,
    /// JSON: `"…"` strings only.
    Json,
}

/// Refuses text whose brackets nest deeper than [`MAX_NESTING`], or a
/// GraphQL document of more than [`MAX_TOKENS`] tokens. Linear, no
/// allocation, no recursion; it does not check that brackets match (the
/// parser does that, safely, once nesting and size are bounded).
pub fn prescan(text: &[u8], syntax: Syntax) -> Result<(), String> {
    let mut depth = 0usize;
    let mut tokens = 0usize;
    let mut in_word = false;
    let mut i = 0;
    while i < text.len() {
        let byte = text[i];
        let word = byte.is_ascii_alphanumeric() || matches!(byte, b'_' | b'.' | b'-' | b'+');
        if word && !in_word
            || matches!(
                byte,
                b'"' | b'{' | b'}' | b'[' | b']' | b'(' | b')' | b':' | b'=' | b'@' | b'$' | b'!' | b'|' | b'&'
            )
        {
            tokens += 1;
            if syntax == Syntax::GraphQL && tokens > MAX_TOKENS {
                return Err(format!("the document has over {MAX_TOKENS} tokens"));
            }
        }
        in_word = word;
        match byte {
            b'"' if syntax == Syntax::GraphQL && text[i..].starts_with(b"\"\"\"") => {
                i = skip_block_string(text, i + 3);
                in_word = false;
                continue;
            }
            b'"' => {
                i = skip_string(text, i + 1);
                in_word = false;
                continue;
            }
            b'#' if syntax == Syntax::GraphQL => {
                while i < text.len() && text[i] != b'\n' && text[i] != b'\r' {
                    i += 1;
                }
                in_word = false;
            }
            b'{' | b'[' | b'(' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Err(format!("the document is nested too deep: brackets nest over {MAX_NESTING} levels"));
                }
            }
            b'}' | b']' | b')' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    Ok(())
}

/// Index just past the closing quote of a `"…"` string starting at `i`.
fn skip_string(text: &[u8], mut i: usize) -> usize {
    while i < text.len() {
        match text[i] {
            b'\\' => i += 2,
            b'"' => return i + 1,
            _ => i += 1,
        }
    }
    text.len()
}

/// Index just past the closing `"""` of a block string starting at `i`.
fn skip_block_string(text: &[u8], mut i: usize) -> usize {
    while i < text.len() {
        if text[i..].starts_with(b"\\\"\"\"") {
            i += 4;
        } else if text[i..].starts_with(b"\"\"\"") {
            return i + 3;
        } else {
            i += 1;
        }
    }
    text.len()
}

/// What a document costs, fragments expanded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cost {
    /// Field selections of the costliest operation.
    pub fields: usize,
    /// Aliased fields of the costliest operation.
    pub aliases: usize,
    /// Deepest selection nesting outside introspection.
    pub depth: usize,
    /// Most introspection list fields nested on one path.
    pub introspection_lists: usize,
    /// Selection sets and spreads nested below, all counted: what bounds
    /// the recursion of every later walk over the document.
    levels: usize,
}

impl Cost {
    /// Two selections side by side: sizes add, depths take the larger.
    fn beside(self, other: Cost) -> Cost {
        Cost {
            fields: self.fields.saturating_add(other.fields),
            aliases: self.aliases.saturating_add(other.aliases),
            depth: self.depth.max(other.depth),
            introspection_lists: self.introspection_lists.max(other.introspection_lists),
            levels: self.levels.max(other.levels),
        }
    }

    /// One more level of nesting above this cost.
    fn nested(self) -> Cost {
        Cost { levels: self.levels + 1, ..self }
    }

    /// The first limit this cost breaks, as a client-facing message.
    pub fn check(&self) -> Result<(), String> {
        if self.fields > MAX_FIELDS || self.aliases > MAX_ALIASES {
            return Err(format!(
                "the document has {} fields and {} aliases with fragments expanded; the limits are {MAX_FIELDS} and \
                 {MAX_ALIASES}",
                self.fields, self.aliases
            ));
        }
        if self.depth > MAX_DEPTH {
            return Err(format!("the document is nested too deep: {} levels; the limit is {MAX_DEPTH}", self.depth));
        }
        if self.introspection_lists > MAX_INTROSPECTION_LISTS {
            return Err(format!(
                "the document is nested too deep: introspection lists nest {} levels; the limit is \
                 {MAX_INTROSPECTION_LISTS}",
                self.introspection_lists
            ));
        }
        Ok(())
    }
}

/// Measures every operation of a parsed document with fragments expanded,
/// and refuses documents too large to measure: too many selections
/// written, a fragment spread chain longer than [`MAX_NESTING`], a fragment
/// that spreads itself, or a spread of an unknown fragment (the validator
/// would refuse those later; we refuse them first because expanding them
/// is what could loop or recurse without end).
pub fn measure(document: &ExecutableDocument) -> Result<Cost, String> {
    let mut written = 0usize;
    for (_, operation) in document.operations.iter() {
        written += count_written(&operation.node.selection_set.node);
    }
    for fragment in document.fragments.values() {
        written += count_written(&fragment.node.selection_set.node);
    }
    if written > MAX_SELECTIONS {
        return Err(format!("the document has {written} selections; the limit is {MAX_SELECTIONS}"));
    }
    let mut measurer = Measurer { document, memo: HashMap::new() };
    let mut worst = Cost::default();
    for (_, operation) in document.operations.iter() {
        let cost = measurer.selection_set(&operation.node.selection_set.node, false, 0)?;
        worst = Cost {
            fields: worst.fields.max(cost.fields),
            aliases: worst.aliases.max(cost.aliases),
            ..worst.beside(cost)
        };
    }
    // Fields written in fragments count even when no operation spreads
    // them: the validator walks every definition.
    worst.fields = worst.fields.max(count_fields_written(document));
    Ok(worst)
}

fn count_written(set: &SelectionSet) -> usize {
    set.items
        .iter()
        .map(|item| match &item.node {
            Selection::Field(field) => 1 + count_written(&field.node.selection_set.node),
            Selection::InlineFragment(fragment) => 1 + count_written(&fragment.node.selection_set.node),
            Selection::FragmentSpread(_) => 1,
        })
        .sum()
}

fn count_fields_written(document: &ExecutableDocument) -> usize {
    fn walk(set: &SelectionSet) -> usize {
        set.items
            .iter()
            .map(|item| match &item.node {
                Selection::Field(field) => 1 + walk(&field.node.selection_set.node),
                Selection::InlineFragment(fragment) => walk(&fragment.node.selection_set.node),
                Selection::FragmentSpread(_) => 0,
            })
            .sum()
    }
    document.operations.iter().map(|(_, op)| walk(&op.node.selection_set.node)).sum::<usize>()
        + document.fragments.values().map(|f| walk(&f.node.selection_set.node)).sum::<usize>()
}

/// The state of one measurement: a fragment's cost depends only on the
/// fragment and on whether it is spread inside introspection.
struct Measurer<'a> {
    document: &'a ExecutableDocument,
    /// `None` while a fragment is being measured: meeting it again is a cycle.
    memo: HashMap<(&'a str, bool), Option<Cost>>,
}

impl<'a> Measurer<'a> {
    /// `level` counts nested selection sets and spreads, so the recursion
    /// here is bounded whatever the document (spreads add no brackets).
    fn selection_set(&mut self, set: &'a SelectionSet, introspection: bool, level: usize) -> Result<Cost, String> {
        if level > MAX_NESTING {
            return Err(format!("the document is nested too deep: over {MAX_NESTING} levels of selections"));
        }
        let mut total = Cost::default();
        for item in &set.items {
            let cost = match &item.node {
                Selection::Field(field) => {
                    let field = &field.node;
                    let name = field.name.node.as_str();
                    let inside = introspection || name == "__schema" || name == "__type";
                    let child = self.selection_set(&field.selection_set.node, inside, level + 1)?;
                    let is_list = inside && INTROSPECTION_LISTS.contains(&name);
                    Cost {
                        fields: child.fields.saturating_add(1),
                        aliases: child.aliases.saturating_add(usize::from(field.alias.is_some())),
                        // Introspection is bounded by its list nesting instead.
                        depth: if inside { 1 } else { child.depth + 1 },
                        introspection_lists: child.introspection_lists + usize::from(is_list),
                        levels: child.levels + 1,
                    }
                }
                Selection::InlineFragment(fragment) => {
                    self.selection_set(&fragment.node.selection_set.node, introspection, level + 1)?.nested()
                }
                Selection::FragmentSpread(spread) => {
                    self.fragment(spread.node.fragment_name.node.as_str(), introspection, level + 1)?.nested()
                }
            };
            total = total.beside(cost);
        }
        Ok(total)
    }

    fn fragment(&mut self, name: &'a str, introspection: bool, level: usize) -> Result<Cost, String> {
        match self.memo.get(&(name, introspection)) {
            // Measured before, from a shallower place: its chain below
            // must still fit under this place.
            Some(Some(cost)) if level + cost.levels > MAX_NESTING => {
                return Err(format!("the document is nested too deep: over {MAX_NESTING} levels of selections"))
            }
            Some(Some(cost)) => return Ok(*cost),
            Some(None) => return Err(format!("fragment {name} spreads itself")),
            None => {}
        }
        let Some((key, fragment)) = self.document.fragments.get_key_value(name) else {
            return Err(format!("unknown fragment {name}"));
        };
        let key = key.as_str();
        self.memo.insert((key, introspection), None);
        let cost = self.selection_set(&fragment.node.selection_set.node, introspection, level)?;
        self.memo.insert((key, introspection), Some(cost));
        Ok(cost)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cost(query: &str) -> Result<Cost, String> {
        measure(&async_graphql::parser::parse_query(query).expect("parses"))
    }

    #[test]
    fn nesting_is_counted_outside_strings_and_comments() {
        let deep = format!("{{ f(a: {}1{}) }}", "[".repeat(50), "]".repeat(50));
        assert!(prescan(deep.as_bytes(), Syntax::GraphQL).is_err());
        let quoted = format!("{{ f(a: \"{}\") }} # {}", "[".repeat(500), "{".repeat(500));
        assert_eq!(prescan(quoted.as_bytes(), Syntax::GraphQL), Ok(()));
        let block = format!("{{ f(a: \"\"\"{} \\\"\"\" {}\"\"\") }}", "[".repeat(500), "(".repeat(500));
        assert_eq!(prescan(block.as_bytes(), Syntax::GraphQL), Ok(()));
        let escaped = format!("{{ f(a: \"\\\"{}\") }}", "[".repeat(500));
        assert_eq!(prescan(escaped.as_bytes(), Syntax::GraphQL), Ok(()));
        // In JSON `#` is not a comment.
        let json = format!("{{\"a\": \"#\", \"b\": {}1{}}}", "[".repeat(60), "]".repeat(60));
        assert!(prescan(json.as_bytes(), Syntax::Json).is_err());
    }

    #[test]
    fn documents_are_bounded_in_tokens_before_parsing() {
        let many = "{ ".to_owned() + &"__typename ".repeat(MAX_TOKENS) + "}";
        assert!(prescan(many.as_bytes(), Syntax::GraphQL).unwrap_err().contains("tokens"));
        let long_string = format!("{{ f(a: \"{}\") }}", "word ".repeat(10_000));
        assert_eq!(prescan(long_string.as_bytes(), Syntax::GraphQL), Ok(()), "a string is one token");
        let json = format!("[{}]", "1,".repeat(10_000));
        assert_eq!(prescan(json.as_bytes(), Syntax::Json), Ok(()), "JSON bodies are bounded by size only");
    }

    #[test]
    fn fields_are_counted_with_fragments_expanded() {
        let c = cost("{ ...A ...A } fragment A on Query { viewer { actorId role } }").expect("measured");
        assert_eq!(c.fields, 6);
        assert_eq!(c.depth, 2);
    }

    #[test]
    fn a_fragment_bomb_is_measured_without_expanding_it() {
        let mut query = String::from("{ ...F0 }");
        for level in 0..20 {
            query
                .push_str(&format!(" fragment F{level} on Query {{ ...F{n} ...F{n} ...F{n} ...F{n} }}", n = level + 1));
        }
        query.push_str(" fragment F20 on Query { __typename }");
        let c = cost(&query).expect("measured");
        assert_eq!(c.fields, 4usize.pow(20));
        assert!(c.check().is_err());
    }

    #[test]
    fn fragment_cycles_and_long_spread_chains_are_refused() {
        assert!(cost("{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }").is_err());
        let mut chain = String::from("{ ...F0 }");
        for level in 0..200 {
            chain.push_str(&format!(" fragment F{level} on Query {{ ...F{} }}", level + 1));
        }
        chain.push_str(" fragment F200 on Query { __typename }");
        assert!(cost(&chain).is_err());
        // The same chain measured tail first is still too long.
        let tail_first: String = (0..=200).rev().map(|level| format!("...F{level} ")).collect();
        assert!(cost(&chain.replacen("{ ...F0 }", &format!("{{ {tail_first} }}"), 1)).is_err());
    }

    #[test]
    fn introspection_is_bounded_by_list_nesting_not_depth() {
        let type_ref = "fragment T on __Type { kind name ofType { kind name ofType { kind name ofType { kind name \
                        ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind \
                        name } } } } } } } } }";
        let standard = format!("{{ __schema {{ types {{ fields {{ args {{ type {{ ...T }} }} }} }} }} }} {type_ref}");
        let c = cost(&standard).expect("measured");
        assert_eq!(c.introspection_lists, 3);
        assert_eq!(c.check(), Ok(()));
        let circular = "{ __schema { types { fields { type { fields { type { fields { name } } } } } } } }";
        assert!(cost(circular).expect("measured").check().is_err());
    }

    #[test]
    fn depth_outside_introspection_is_limited() {
        let deep = format!("{}x{}", "{ a ".repeat(13), " }".repeat(13));
        assert!(cost(&deep).expect("measured").check().unwrap_err().contains("nested too deep"));
    }
}

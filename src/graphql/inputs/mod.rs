//! Input objects.

pub mod filters;

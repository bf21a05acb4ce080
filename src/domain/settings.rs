//! Process-independent settings kept in the database (DESIGN §9).

/// Rate limits (requests per minute per caller) must stay within this range.
pub const RPM_RANGE: std::ops::RangeInclusive<i32> = 1..=100_000;

/// The settings row: kill switch, rate limits, build quota, CI publishers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemSettings {
    pub mutations_disabled: bool,
    pub read_rpm: i32,
    pub mutate_rpm: i32,
    pub daily_build_register_quota: i32,
    pub ci_publishers: Vec<String>,
    /// Whether a promotion may skip environments on the path (DESIGN §11.1).
    pub promotion_allow_jumps: bool,
}

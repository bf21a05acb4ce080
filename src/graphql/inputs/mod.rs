//! Input objects.

pub mod deployment;
pub mod filters;

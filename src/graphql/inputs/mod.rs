//! Input objects.

pub mod catalog;
pub mod deployment;
pub mod filters;

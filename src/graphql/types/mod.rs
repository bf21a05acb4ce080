//! Output types, built from domain values (never from database rows), so a
//! new column never changes the public schema by accident.

pub mod audit;
pub mod catalog;
pub mod deployment;
pub mod preflight;

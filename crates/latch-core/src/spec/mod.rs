//! Make.com custom-app specs: the data-driven connection format (see
//! docs/iml.md). [`iml`] is the template language every spec string is
//! written in.

pub mod document;
pub mod iml;
pub mod runner;

//! The bpftrace language: syntax tree, parser, errors, printer, and the
//! catalog of builtins.
//!
//! The parser is split by concern: `lexical` (tokens, whitespace, literals),
//! `expr` (expressions with C precedence), `stmt` (statements and blocks),
//! `probe` (attach points, predicates, the program).

pub mod ast;
pub mod c_layout;
pub mod catalog;
pub mod config;
pub mod dialect;
pub mod error;
mod expr;
pub mod int_type;
pub(crate) mod lexical;
pub mod pretty;
pub mod printf;
mod probe;
pub mod stack;
mod stmt;

pub use error::{ParseError, ParseErrorKind};

/// Parses a whole program.
pub fn parse(source: &str) -> Result<ast::Program, ParseError> {
    match probe::program(lexical::Input::new(source)) {
        Ok((_, program)) => Ok(program),
        Err(nom::Err::Error(e) | nom::Err::Failure(e)) => Err(ParseError::new(source, e)),
        // Complete parsers never ask for more input; treat it as an early end.
        Err(nom::Err::Incomplete(_)) => {
            let at_end = nom::Input::take_from(&lexical::Input::new(source), source.len());
            Err(ParseError::new(
                source,
                lexical::SyntaxError::at(&at_end, lexical::Reason::Unspecified),
            ))
        }
    }
}

#[cfg(test)]
mod tests;

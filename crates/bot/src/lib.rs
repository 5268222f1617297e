//! The bot. So far: intent recognition ([`intent`]), measured on CLINC150 by
//! `concierge bot eval`.

pub mod intent;
pub mod lang;
pub mod mood;
pub mod slang;
pub mod text;

//! The bot: it settles routine requests with what the customer data core already knows,
//! recognises what it cannot do, and hands over to a person with context.
//!
//! - [`definition`]: the file a brand writes (intents, examples per language, answers, slots,
//!   handoff queues, rules);
//! - [`intent`]: intent recognition (TF-IDF features, a linear model, an out-of-scope threshold),
//!   measured on CLINC150 by `concierge bot eval`; [`text`] its features;
//! - [`engine`]: the dialogue, one message in, a decision (effects) out, pure;
//! - [`facts`]: orders and customer details as the bot needs them; [`slots`]: slot values in text;
//! - [`rules`]: event → conditions → actions, for the engine and the timer worker alike.

pub mod definition;
pub mod engine;
pub mod evaluate;
pub mod facts;
pub mod intent;
pub mod lang;
pub mod mood;
pub mod rules;
pub mod slang;
pub mod slots;
pub mod text;

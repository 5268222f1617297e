//! The human service desk, as pure functions the server and the workers call:
//!
//! - [`hours::BusinessHours`]: the brand's opening hours and holidays, and time measured in them;
//! - [`sla::Sla`]: first-response, next-response and resolution targets per channel, and
//!   [`sla::evaluate`], which tells for one conversation whether each is met, running or breached;
//! - [`routing::pick_team`]: the team whose skills (language, channel, topic) fit a conversation;
//! - [`report`]: the supervisor's indicators over a period, the drill-down from any number to the
//!   conversations behind it, and the CSV export.
//!
//! Nothing here reads a clock or a database: callers pass `now` and the conversations' facts.

pub mod hours;
pub mod report;
pub mod routing;
pub mod sla;

pub use hours::BusinessHours;
pub use sla::{Clock, Facts, Sla, SlaConfig, SlaState, Turn, Who};

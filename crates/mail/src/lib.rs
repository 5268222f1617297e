//! The e-mail channel, without storage: the store and server wire these functions to their outbox,
//! inbound log and pollers.
//!
//! Inbound:
//! - [`parse_message`] turns raw RFC 5322/MIME bytes into a [`MailIn`]: ids and the thread root,
//!   decoded addresses and subject, the text (whole, and [`MailIn::new_text`] without quoted
//!   history), the HTML body sanitised, attachment metadata, and its [`MailKind`]: a customer, an
//!   auto-reply, or a [`Bounce`] with the failed recipients and the server's reason.
//! - [`to_inbound`] makes a customer's mail the channel-neutral
//!   [`InboundMessage`](concierge_types::conversation::InboundMessage); auto-replies and bounces
//!   give `None` and are for the log.
//! - [`poll_imap`] fetches mail that arrived since a UID, leaving the mailbox untouched.
//!
//! Outbound:
//! - [`build_reply`] writes a threaded plain-text reply; [`send_smtp`] hands it to a relay and says
//!   with [`SendError::retryable`] whether to try again.
//!
//! Everything here is blocking and synchronous; the server runs it on blocking threads.

mod classify;
pub mod html;
mod imap;
mod parse;
mod quote;
mod reply;
mod smtp;

pub use classify::{Bounce, MailKind};
pub use imap::poll_imap;
pub use parse::{parse_message, to_inbound, Attachment, MailIn, Mailbox};
pub use quote::strip_quoted;
pub use reply::{build_reply, reply_subject};
pub use smtp::{send_smtp, SendError};

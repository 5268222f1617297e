//! Black-box tests against the real `concierge` binary: one test binary (link time matters on two
//! cores), one module per capability.

mod bot;
mod channels;
mod durability;
mod helpers;
mod identity;
mod privacy;
mod robustness;
mod tracking;
mod webchat;
mod workspace;

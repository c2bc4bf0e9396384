//! One platform object, one owner.
//!
//! Every object names a platform identity: a customer its tenant, a number block its
//! numbers, a SIP connection its site, a dial plan its dial plan on a site, an end user
//! its SIP address. Several objects (in one namespace or in many) may name the same
//! one by mistake; exactly one of them owns it, and the others are held in `Conflict`
//! and make no platform call at all, not even on delete.
//!
//! Who owns an identity is decided from the watch caches, the same way after every
//! restart:
//! 1. an object that claimed it (recorded a platform id or a write in its status, which
//!    stamps `status.ownedSince`) comes before one that did not; among those, the
//!    earlier claim wins;
//! 2. among objects that claimed nothing yet, the older `creationTimestamp` wins;
//! 3. ties go to the smaller uid.
//!
//! A claim made by this process is known here the moment the check passes, before its
//! status write reaches the cache, so two objects reconciled at once cannot both pass.
//! No decision is taken before every watch cache holds its first listing.
//!
//! An object held in `Conflict` waits for its owner: any change of the owner (its
//! deletion above all) reconciles the waiting objects again, through a trigger of
//! their controller; nothing is retried on a timer.

mod entries;
mod governed;
mod identity;
mod ledger;
mod ledgers;

use entries::*;
pub use governed::*;
pub use identity::*;
pub use ledger::*;
pub use ledgers::*;

#[cfg(test)]
mod tests;

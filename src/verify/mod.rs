//! Verification of signatures on build inputs. Results feed the policy input as facts;
//! nothing here decides whether a source is allowed.

pub mod bundle;
pub mod chain;
pub mod dhi;
pub mod git;
pub mod image;
pub mod legacy;
pub mod pgp;
pub mod signer;
pub mod trust;

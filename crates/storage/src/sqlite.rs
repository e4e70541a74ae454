//! Placeholder; implemented by the storage helper.

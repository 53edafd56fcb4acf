#![doc = include_str!("../README.md")]

#[cfg(feature = "rest_api")]
pub mod rest_api;

/// Registers every connector of this crate compiled in (`rest_api`).
pub fn register(registry: &mut connector_core::Registry) {
    #[cfg(feature = "rest_api")]
    rest_api::register(registry);
    let _ = registry;
}

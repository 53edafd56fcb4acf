//! The conformance kit on the in-memory reference connector.

use connector_core::testkit::MemoryFixture;

connector_core::conformance_tests!(memory, MemoryFixture);

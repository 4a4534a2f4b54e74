//! In-memory adapters for every port and the conformance suites every adapter must pass.

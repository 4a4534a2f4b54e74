//! The AI's pure parts (no I/O): the offline knowledge-base answerer, asking for a person, guardrails.

//! Integration tests of the phishing analyzer: authentication vectors, crafted messages of
//! each kind of finding, hostile input, and a subset of the real corpora.

mod auth_vectors;
mod campaigns;
mod corpus;
mod dns_failures;
mod findings;
mod hostile;
mod intake;
mod known;
mod signals;
mod yara;

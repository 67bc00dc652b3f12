//! Traffic Light Protocol 2.0 (FIRST), as STIX 2.1 marking definitions.
//!
//! The marking-definition ids are the ones published with the TLP 2.0 extension
//! (`../shared/data/cti/tlp2/tlp2_marking_definitions_bundle.json`); the STIX 2.1 TLP 1.0
//! ids (WHITE, GREEN, AMBER, RED) are read too, WHITE as CLEAR.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A TLP 2.0 label, ordered from least to most restrictive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Tlp {
    /// Disclosure is not limited.
    Clear,
    /// Limited disclosure, the recipient's community.
    Green,
    /// Limited disclosure, the recipient's organisation and its clients.
    Amber,
    /// Limited disclosure, the recipient's organisation only.
    #[serde(rename = "amber+strict")]
    AmberStrict,
    /// For the eyes and ears of individual recipients only.
    Red,
}

/// The STIX 2.1 extension definition that carries TLP 2.0 markings.
pub const TLP2_EXTENSION_ID: &str = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d";

/// Every TLP level, least restrictive first.
pub const ALL: [Tlp; 5] = [
    Tlp::Clear,
    Tlp::Green,
    Tlp::Amber,
    Tlp::AmberStrict,
    Tlp::Red,
];

/// STIX 2.1 TLP 1.0 marking definitions (spec §7.2.1.4), mapped onto TLP 2.0.
const TLP1_IDS: [(&str, Tlp); 4] = [
    (
        "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9",
        Tlp::Clear,
    ),
    (
        "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da",
        Tlp::Green,
    ),
    (
        "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82",
        Tlp::Amber,
    ),
    (
        "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed",
        Tlp::Red,
    ),
];

impl Tlp {
    /// The TLP 2.0 STIX marking-definition id.
    pub fn marking_id(self) -> &'static str {
        match self {
            Tlp::Clear => "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
            Tlp::Green => "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
            Tlp::Amber => "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
            Tlp::AmberStrict => "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
            Tlp::Red => "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
        }
    }

    /// The label as written in TLP 2.0 (`TLP:AMBER+STRICT`).
    pub fn label(self) -> &'static str {
        match self {
            Tlp::Clear => "TLP:CLEAR",
            Tlp::Green => "TLP:GREEN",
            Tlp::Amber => "TLP:AMBER",
            Tlp::AmberStrict => "TLP:AMBER+STRICT",
            Tlp::Red => "TLP:RED",
        }
    }

    /// The lowercase value of the extension's `tlp_2_0` property.
    pub fn as_str(self) -> &'static str {
        match self {
            Tlp::Clear => "clear",
            Tlp::Green => "green",
            Tlp::Amber => "amber",
            Tlp::AmberStrict => "amber+strict",
            Tlp::Red => "red",
        }
    }

    /// The level a marking-definition id stands for (TLP 2.0 or STIX TLP 1.0 ids).
    pub fn from_marking_id(id: &str) -> Option<Tlp> {
        ALL.into_iter()
            .find(|tlp| tlp.marking_id() == id)
            .or_else(|| {
                TLP1_IDS
                    .iter()
                    .find(|(known, _)| *known == id)
                    .map(|(_, tlp)| *tlp)
            })
    }

    /// The most restrictive level among `marking_refs`, if any is a TLP marking.
    pub fn from_marking_refs<'a>(marking_refs: impl IntoIterator<Item = &'a str>) -> Option<Tlp> {
        marking_refs
            .into_iter()
            .filter_map(Tlp::from_marking_id)
            .max()
    }

    /// Whether a recipient cleared up to `clearance` may receive what is marked `self`.
    /// TLP:RED is never shared automatically: it is for named individuals, not feeds.
    pub fn shareable_with(self, clearance: Tlp) -> bool {
        self != Tlp::Red && self <= clearance
    }

    /// The STIX 2.1 marking-definition object for this level, as published.
    pub fn marking_definition(self) -> serde_json::Value {
        serde_json::json!({
            "type": "marking-definition",
            "spec_version": "2.1",
            "id": self.marking_id(),
            "created": "2022-10-01T00:00:00.000Z",
            "name": self.label(),
            "extensions": {
                TLP2_EXTENSION_ID: {"extension_type": "property-extension", "tlp_2_0": self.as_str()}
            }
        })
    }
}

impl fmt::Display for Tlp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// An unknown TLP label.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown TLP level `{0}` (expected clear, green, amber, amber+strict or red)")]
pub struct UnknownTlp(pub String);

impl FromStr for Tlp {
    type Err = UnknownTlp;

    /// Accepts `amber`, `TLP:AMBER`, `tlp:amber+strict`, and TLP 1.0's `white` as CLEAR.
    fn from_str(text: &str) -> Result<Tlp, UnknownTlp> {
        let lower = text.trim().to_ascii_lowercase();
        let bare = lower.strip_prefix("tlp:").unwrap_or(&lower);
        Ok(match bare {
            "clear" | "white" => Tlp::Clear,
            "green" => Tlp::Green,
            "amber" => Tlp::Amber,
            "amber+strict" | "amber-strict" | "amber_strict" => Tlp::AmberStrict,
            "red" => Tlp::Red,
            _ => return Err(UnknownTlp(text.to_owned())),
        })
    }
}

/// Permissible Actions Protocol (FIRST PAP): what a recipient may do with the information.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Pap {
    /// Passive actions only, no interaction with the adversary's infrastructure.
    Clear,
    /// Actions the adversary cannot detect.
    Green,
    /// Passive cross-checks only.
    Amber,
    /// Non-detectable actions only, by the recipient.
    Red,
}

impl FromStr for Pap {
    type Err = UnknownTlp;

    fn from_str(text: &str) -> Result<Pap, UnknownTlp> {
        let lower = text.trim().to_ascii_lowercase();
        let bare = lower.strip_prefix("pap:").unwrap_or(&lower);
        Ok(match bare {
            "clear" | "white" => Pap::Clear,
            "green" => Pap::Green,
            "amber" => Pap::Amber,
            "red" => Pap::Red,
            _ => return Err(UnknownTlp(text.to_owned())),
        })
    }
}

//! Sharing with partner organisations: who they are, how far they are cleared, and a
//! preview of who receives what before anything is published.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::set::{IndicatorSet, Selection};
use crate::tlp::Tlp;

/// A named operational contact at a partner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contact {
    /// Full name.
    pub name: String,
    /// Role (`CSIRT duty officer`).
    #[serde(default)]
    pub role: String,
    /// Email address.
    #[serde(default)]
    pub email: String,
    /// Phone number.
    #[serde(default)]
    pub phone: String,
}

/// A partner organisation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Partner {
    /// Name (`CERT-X`).
    pub name: String,
    /// Most restrictive TLP it may receive. TLP:RED is never shared automatically.
    pub max_tlp: Tlp,
    /// TAXII collections it may read and write.
    pub collections: Vec<String>,
    /// Operational contacts.
    #[serde(default)]
    pub contacts: Vec<Contact>,
}

/// What one partner would receive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartnerPreview {
    /// The partner.
    pub partner: String,
    /// Its clearance.
    pub max_tlp: Tlp,
    /// Indicators (value and pattern-only) it receives.
    pub shared: usize,
    /// Indicators withheld from it, by their TLP.
    pub withheld: BTreeMap<Tlp, usize>,
}

impl fmt::Display for PartnerPreview {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} indicators to {} (cleared up to {})",
            self.shared, self.partner, self.max_tlp
        )?;
        let withheld: usize = self.withheld.values().sum();
        if withheld > 0 {
            let detail: Vec<String> = self
                .withheld
                .iter()
                .map(|(tlp, n)| format!("{n} {}", tlp.label()))
                .collect();
            write!(
                f,
                "; {withheld} withheld from {}: {}",
                self.partner,
                detail.join(", ")
            )?;
        }
        Ok(())
    }
}

/// Who would receive what, for every partner, from the indicators active at `now`.
pub fn preview(
    set: &IndicatorSet,
    partners: &[Partner],
    now: jiff::Timestamp,
) -> Vec<PartnerPreview> {
    let all = Selection::up_to(Tlp::Red, now);
    partners
        .iter()
        .map(|partner| {
            let mut preview = PartnerPreview {
                partner: partner.name.clone(),
                max_tlp: partner.max_tlp,
                shared: 0,
                withheld: BTreeMap::new(),
            };
            let tlps = set
                .select(&all)
                .map(|i| i.tlp)
                .chain(set.select_patterns(&all).map(|p| p.tlp));
            for tlp in tlps {
                if tlp.shareable_with(partner.max_tlp) {
                    preview.shared += 1;
                } else {
                    *preview.withheld.entry(tlp).or_default() += 1;
                }
            }
            preview
        })
        .collect()
}

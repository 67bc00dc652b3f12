//! The `[intel]` section: warninglists, blocklist access, TAXII collections, partners with
//! their TAXII credentials and operational contacts, retro-matching.
//!
//! ```toml
//! [intel]
//! default_tlp = "amber"
//! warninglists = ["/etc/sentinella/warninglists"]   # list.json files or folders of them
//! blocklist_tokens = ["…"]                          # for GET /api/v1/intel/blocklist/{format}
//! api_max_tlp = "amber+strict"                    # viewers and analysts; RED: admins only
//! blocklist_max_tlp = "amber+strict"              # firewalls of the organisation; never RED
//! retro_match_hours = 72
//!
//! # TAXII collections; without any, one: `indicators`, every indicator, writable.
//! [[intel.collections]]
//! name = "phishing"
//! title = "Phishing"
//! description = "Phishing URLs and domains seen by the city SOC"
//! sources = ["phishing-reports"]                  # any of these sources (all when empty)
//! tags = []                                       # any of these tags (all when empty)
//! kinds = ["url", "domain"]                       # these kinds (all when empty)
//! max_tlp = "amber"                               # most restrictive TLP held
//! writable = true                                 # partners listing it may add objects
//!
//! [[intel.partners]]
//! name = "CERT-X"
//! max_tlp = "amber"
//! collections = ["phishing"]
//! username = "cert-x"
//! password_sha256 = "…"                             # sha256 hex of the TAXII password
//! contacts = [{ name = "Ada Rossi", role = "duty officer", email = "soc@cert-x.example", phone = "+39 06 000000" }]
//! ```

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use serde::Deserialize;

/// What the user wrote under `[intel]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntelConfig {
    /// TLP of imported entries that carry none.
    #[serde(default = "default_tlp")]
    pub default_tlp: String,
    /// MISP warninglist files (`list.json`) or folders holding them (searched one level
    /// deep); their values are never imported as indicators.
    #[serde(default)]
    pub warninglists: Vec<PathBuf>,
    /// Tokens that may fetch `/api/v1/intel/blocklist/{format}`. None: blocklists are off.
    #[serde(default)]
    pub blocklist_tokens: Vec<String>,
    /// Most restrictive TLP viewers and analysts read over the API (indicator list, export).
    /// Never RED: RED is for admins only, and only when they ask for it.
    #[serde(default = "default_internal_tlp")]
    pub api_max_tlp: String,
    /// Most restrictive TLP put into blocklists. They are fetched by the organisation's own
    /// devices, and acting on AMBER(+STRICT) inside the organisation is what TLP 2.0 allows;
    /// never RED.
    #[serde(default = "default_internal_tlp")]
    pub blocklist_max_tlp: String,
    /// Lowest confidence put into blocklists.
    #[serde(default)]
    pub blocklist_min_confidence: u8,
    /// New indicators are matched against stored events of this many past hours; 0: off.
    #[serde(default = "default_retro_hours")]
    pub retro_match_hours: u32,
    /// TAXII 2.1 collections served to partners; none: one, `indicators`, holding every
    /// indicator, writable.
    #[serde(default)]
    pub collections: Vec<CollectionConfig>,
    /// Partner organisations (TAXII 2.1 sharing).
    #[serde(default)]
    pub partners: Vec<PartnerConfig>,
    /// TAXII 2.1 collections polled for new objects (`added_after`, pagination).
    #[serde(default)]
    pub feeds: Vec<FeedConfig>,
}

/// A TAXII 2.1 collection to poll.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedConfig {
    /// Name, recorded as the source of what it brings.
    pub name: String,
    /// A TAXII 2.1 collection URL (`https://host/taxii2/root/collections/ID/`), polled
    /// incrementally with `added_after` and `next`.
    #[serde(default)]
    pub collection_url: Option<String>,
    /// Or a list URL (CSV, plain, STIX, MISP event) fetched whole on every poll; its
    /// indicators stay valid for three intervals (at least a day) after they were last
    /// listed, so entries the feed drops expire on their own.
    #[serde(default)]
    pub url: Option<String>,
    /// The list's format (`feodo`, `urlhaus`, `threatfox`, `plain`, `stix`, `misp`)
    /// [default: from the content].
    #[serde(default)]
    pub format: Option<String>,
    /// HTTP Basic user name, if the server wants one.
    #[serde(default)]
    pub username: Option<String>,
    /// HTTP Basic password.
    #[serde(default)]
    pub password: Option<String>,
    /// Seconds between polls.
    #[serde(default = "default_poll_secs")]
    pub interval_secs: u64,
    /// Objects asked for per page.
    #[serde(default = "default_page_size")]
    pub page_size: u32,
    /// TLP of objects that carry no marking.
    #[serde(default = "default_tlp")]
    pub default_tlp: String,
}

impl Default for IntelConfig {
    fn default() -> Self {
        toml::from_str("").expect("every field has a default")
    }
}

/// A TAXII collection: a named selection of the indicators.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CollectionConfig {
    /// Name partners list it by (letters, digits, `-`, `_`, `.`).
    pub name: String,
    /// Title shown to partners [default: the name].
    #[serde(default)]
    pub title: Option<String>,
    /// Description shown to partners.
    #[serde(default)]
    pub description: String,
    /// Indicators of any of these sources (feed names, partner names); all when empty.
    #[serde(default)]
    pub sources: Vec<String>,
    /// Indicators carrying any of these tags; all when empty.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Indicator kinds (`ip`, `domain`, `url`, `sha256`, …); all when empty.
    #[serde(default)]
    pub kinds: Vec<String>,
    /// Most restrictive TLP held [default: every level; partners never receive RED].
    #[serde(default = "default_collection_tlp")]
    pub max_tlp: String,
    /// Whether partners listing it may add objects to it and withdraw their own.
    #[serde(default)]
    pub writable: bool,
}

impl CollectionConfig {
    fn build(&self) -> anyhow::Result<api::threat_intel::Collection> {
        let what = format!("collections.{}", self.name);
        anyhow::ensure!(
            !self.name.is_empty()
                && self
                    .name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.')),
            "intel.{what}: a name is letters, digits, `-`, `_` and `.`"
        );
        let kinds = self
            .kinds
            .iter()
            .map(|k| {
                k.parse::<intel::IndicatorKind>()
                    .map_err(anyhow::Error::msg)
            })
            .collect::<anyhow::Result<Vec<_>>>()
            .with_context(|| format!("intel.{what}.kinds"))?;
        Ok(api::threat_intel::Collection {
            name: self.name.clone(),
            title: self.title.clone().unwrap_or_else(|| self.name.clone()),
            description: self.description.clone(),
            sources: self.sources.clone(),
            tags: self.tags.clone(),
            kinds,
            max_tlp: tlp(&self.max_tlp, &format!("{what}.max_tlp"))?,
            writable: self.writable,
        })
    }
}

/// One partner organisation.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartnerConfig {
    /// Name, e.g. `CERT-X`.
    pub name: String,
    /// Most restrictive TLP it may receive (RED is never shared automatically).
    pub max_tlp: String,
    /// TAXII collections it may read (and write, where the collection is writable).
    #[serde(default)]
    pub collections: Vec<String>,
    /// TAXII user name.
    pub username: String,
    /// SHA-256 (hex) of its TAXII password.
    pub password_sha256: String,
    /// Operational contacts.
    #[serde(default)]
    pub contacts: Vec<ContactConfig>,
}

/// An operational contact at a partner.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContactConfig {
    /// Full name.
    pub name: String,
    /// Role.
    #[serde(default)]
    pub role: String,
    /// Email.
    #[serde(default)]
    pub email: String,
    /// Phone.
    #[serde(default)]
    pub phone: String,
}

fn default_tlp() -> String {
    "amber".into()
}
fn default_collection_tlp() -> String {
    "red".into()
}
fn default_internal_tlp() -> String {
    "amber+strict".into()
}
fn default_retro_hours() -> u32 {
    72
}
fn default_poll_secs() -> u64 {
    300
}
fn default_page_size() -> u32 {
    500
}

fn tlp(text: &str, what: &str) -> anyhow::Result<intel::Tlp> {
    text.parse().with_context(|| format!("intel.{what}"))
}

impl IntelConfig {
    /// Checks what serde cannot (TLP names, credentials, duplicate partners).
    pub fn validate(&self) -> anyhow::Result<()> {
        tlp(&self.default_tlp, "default_tlp")?;
        for (what, text) in [
            ("api_max_tlp", &self.api_max_tlp),
            ("blocklist_max_tlp", &self.blocklist_max_tlp),
        ] {
            anyhow::ensure!(
                tlp(text, what)? != intel::Tlp::Red,
                "intel.{what} cannot be red: TLP:RED is for named individuals (admins ask for it)"
            );
        }
        anyhow::ensure!(
            self.blocklist_min_confidence <= 100,
            "intel.blocklist_min_confidence is 0 to 100"
        );
        let collections = self.collections()?;
        for partner in &self.partners {
            tlp(
                &partner.max_tlp,
                &format!("partners.{}.max_tlp", partner.name),
            )?;
            for name in &partner.collections {
                anyhow::ensure!(
                    collections.iter().any(|c| &c.name == name),
                    "intel.partners.{}.collections: no collection named {name}",
                    partner.name
                );
            }
            anyhow::ensure!(
                partner.password_sha256.len() == 64
                    && partner
                        .password_sha256
                        .bytes()
                        .all(|b| b.is_ascii_hexdigit()),
                "intel.partners.{}.password_sha256 must be 64 hex digits",
                partner.name
            );
            anyhow::ensure!(
                !partner.username.is_empty(),
                "intel.partners.{}.username is empty",
                partner.name
            );
            let same = self
                .partners
                .iter()
                .filter(|p| p.username == partner.username)
                .count();
            anyhow::ensure!(
                same == 1,
                "intel.partners: username {} used twice",
                partner.username
            );
        }
        for feed in &self.feeds {
            tlp(
                &feed.default_tlp,
                &format!("feeds.{}.default_tlp", feed.name),
            )?;
            let url = match (&feed.collection_url, &feed.url) {
                (Some(url), None) | (None, Some(url)) => url,
                _ => anyhow::bail!(
                    "intel.feeds.{} needs exactly one of collection_url (TAXII) and url (list)",
                    feed.name
                ),
            };
            anyhow::ensure!(
                url.starts_with("http://") || url.starts_with("https://"),
                "intel.feeds.{}: the URL must be http(s)",
                feed.name
            );
            if let Some(format) = &feed.format {
                format
                    .parse::<intel::import::FeedFormat>()
                    .map_err(anyhow::Error::msg)
                    .with_context(|| format!("intel.feeds.{}.format", feed.name))?;
            }
            anyhow::ensure!(
                feed.interval_secs > 0 && feed.page_size > 0,
                "intel.feeds.{}: interval_secs and page_size must be positive",
                feed.name
            );
        }
        for token in &self.blocklist_tokens {
            anyhow::ensure!(
                token.len() >= 16,
                "intel.blocklist_tokens: tokens need at least 16 characters"
            );
        }
        Ok(())
    }

    /// The TAXII collections: the configured ones, or the default `indicators`.
    pub fn collections(&self) -> anyhow::Result<Vec<api::threat_intel::Collection>> {
        if self.collections.is_empty() {
            return Ok(vec![api::threat_intel::Collection::all_indicators()]);
        }
        let collections = self
            .collections
            .iter()
            .map(CollectionConfig::build)
            .collect::<anyhow::Result<Vec<_>>>()?;
        for collection in &collections {
            anyhow::ensure!(
                collections
                    .iter()
                    .filter(|c| c.name == collection.name)
                    .count()
                    == 1,
                "intel.collections: {} named twice",
                collection.name
            );
        }
        Ok(collections)
    }

    /// The partners as sharing sees them (no credentials).
    pub fn sharing_partners(&self) -> anyhow::Result<Vec<intel::sharing::Partner>> {
        self.partners
            .iter()
            .map(|p| {
                Ok(intel::sharing::Partner {
                    name: p.name.clone(),
                    max_tlp: tlp(&p.max_tlp, "partners.max_tlp")?,
                    collections: p.collections.clone(),
                    contacts: p
                        .contacts
                        .iter()
                        .map(|c| intel::sharing::Contact {
                            name: c.name.clone(),
                            role: c.role.clone(),
                            email: c.email.clone(),
                            phone: c.phone.clone(),
                        })
                        .collect(),
                })
            })
            .collect()
    }

    /// Who would receive what, per partner and collection, from `set` (as the share
    /// preview route computes it; the CLI uses it on a data directory).
    pub fn share_preview(
        &self,
        set: &intel::IndicatorSet,
    ) -> anyhow::Result<Vec<api::threat_intel::SharePreview>> {
        Ok(api::threat_intel::share_preview(
            set,
            &self.sharing_partners()?,
            &self.collections()?,
            jiff::Timestamp::now(),
        ))
    }

    fn load_warninglists(&self) -> anyhow::Result<intel::Warninglists> {
        load_warninglists(&self.warninglists)
    }

    /// Opens `DATA_DIR/intel` and builds the API's intel state.
    pub fn build(&self, data_dir: &Path) -> anyhow::Result<Arc<api::threat_intel::IntelState>> {
        self.validate()?;
        let warninglists = self.load_warninglists()?;
        let n_lists = warninglists.len();
        let dir = data_dir.join("intel");
        let (store, problems) = intel_store::IntelStore::open(&dir, warninglists)
            .with_context(|| format!("opening the intel store in {}", dir.display()))?;
        for (line, reason) in problems.iter().take(5) {
            tracing::warn!(line, %reason, "intel indicator line skipped");
        }
        tracing::info!(
            indicators = store.set().len(),
            warninglists = n_lists,
            partners = self.partners.len(),
            "threat intel loaded"
        );
        let partners = self
            .sharing_partners()?
            .into_iter()
            .zip(&self.partners)
            .map(|(partner, p)| api::threat_intel::PartnerAccount {
                partner,
                username: p.username.clone(),
                password_sha256: p.password_sha256.to_ascii_lowercase(),
            })
            .collect();
        let blocklist = api::threat_intel::BlocklistSettings {
            tokens: self.blocklist_tokens.clone(),
            max_tlp: tlp(&self.blocklist_max_tlp, "blocklist_max_tlp")?,
            min_confidence: self.blocklist_min_confidence,
        };
        let retro = (self.retro_match_hours > 0)
            .then(|| jiff::SignedDuration::from_hours(i64::from(self.retro_match_hours)));
        Ok(Arc::new(
            api::threat_intel::IntelState::new(
                store,
                partners,
                blocklist,
                tlp(&self.default_tlp, "default_tlp")?,
                retro,
            )
            .with_api_max_tlp(tlp(&self.api_max_tlp, "api_max_tlp")?)
            .with_collections(self.collections()?),
        ))
    }
}

/// How often indicators are checked for expiry and for becoming valid.
const EXPIRY_TICK: std::time::Duration = std::time::Duration::from_secs(5);

/// Expires indicators and activates ones whose `valid_from` arrives, until `stop`.
pub fn spawn_expiry(
    intel: Arc<api::threat_intel::IntelState>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(EXPIRY_TICK) => {}
                _ = stop.wait_for(|stop| *stop) => return,
            }
            let intel = Arc::clone(&intel);
            let ticked =
                tokio::task::spawn_blocking(move || intel.tick(jiff::Timestamp::now())).await;
            match ticked {
                Ok(Ok(0)) => {}
                Ok(Ok(n)) => tracing::info!(expired = n, "threat intel indicators expired"),
                Ok(Err(error)) => tracing::error!(%error, "threat intel expiry not saved"),
                Err(error) => tracing::warn!(%error, "threat intel expiry task failed"),
            }
        }
    })
}

/// Where each feed's `added_after` is kept between runs.
const FEEDS_STATE_FILE: &str = "feeds-state.json";
/// Largest TAXII page accepted.
const MAX_PAGE_BYTES: u64 = 64 * 1024 * 1024;
/// Most pages read in one poll (a runaway `next` loop stops here).
const MAX_PAGES_PER_POLL: usize = 1_000;

/// Starts one polling task per configured feed; they stop when `stop` turns true.
pub fn spawn_feed_pollers(
    config: &IntelConfig,
    intel: Arc<api::threat_intel::IntelState>,
    events: Arc<dyn store::EventStore>,
    data_dir: &Path,
    stop: tokio::sync::watch::Receiver<bool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let state_path = data_dir.join("intel").join(FEEDS_STATE_FILE);
    let state = Arc::new(std::sync::Mutex::new(read_feed_state(&state_path)));
    config
        .feeds
        .iter()
        .cloned()
        .map(|feed| {
            let (intel, events, state, state_path, mut stop) =
                (Arc::clone(&intel), Arc::clone(&events), Arc::clone(&state), state_path.clone(), stop.clone());
            tokio::spawn(async move {
                loop {
                    let work = {
                        let (feed, intel, events, state, state_path) =
                            (feed.clone(), Arc::clone(&intel), Arc::clone(&events), Arc::clone(&state), state_path.clone());
                        tokio::task::spawn_blocking(move || poll_feed(&feed, &intel, events.as_ref(), &state, &state_path))
                    };
                    match work.await {
                        Ok(Ok((objects, new))) => {
                            if objects > 0 {
                                tracing::info!(feed = %feed.name, objects, new, "taxii feed polled");
                            }
                        }
                        Ok(Err(error)) => tracing::warn!(feed = %feed.name, error = %format!("{error:#}"), "taxii feed poll failed"),
                        Err(error) => tracing::warn!(feed = %feed.name, %error, "taxii feed poll task failed"),
                    }
                    let wait = tokio::time::sleep(std::time::Duration::from_secs(feed.interval_secs));
                    tokio::select! {
                        _ = wait => {}
                        _ = stop.wait_for(|stop| *stop) => return,
                    }
                }
            })
        })
        .collect()
}

fn read_feed_state(path: &Path) -> std::collections::BTreeMap<String, String> {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or_default()
}

/// One poll: every page of objects added after the feed's mark, imported; the mark moves
/// to the last page's `X-TAXII-Date-Added-Last` only once its objects are saved.
fn poll_feed(
    feed: &FeedConfig,
    intel: &api::threat_intel::IntelState,
    events: &dyn store::EventStore,
    state: &std::sync::Mutex<std::collections::BTreeMap<String, String>>,
    state_path: &Path,
) -> anyhow::Result<(usize, usize)> {
    use base64::Engine as _;
    let agent = ureq::Agent::config_builder()
        .timeout_global(Some(std::time::Duration::from_secs(120)))
        .http_status_as_error(false)
        .build()
        .new_agent();
    let Some(collection_url) = &feed.collection_url else {
        return poll_list(feed, intel, events, &agent);
    };
    let added_after = state
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .get(&feed.name)
        .cloned();
    let base = format!("{}/objects/", collection_url.trim_end_matches('/'));
    let options =
        intel::ImportOptions::new(&feed.name, tlp(&feed.default_tlp, "feeds.default_tlp")?);
    let (mut n_objects, mut n_new) = (0, 0);
    let mut next: Option<String> = None;
    let mut mark = added_after.clone();
    for _ in 0..MAX_PAGES_PER_POLL {
        let mut url = format!("{base}?limit={}", feed.page_size);
        if let Some(after) = &added_after {
            url.push_str(&format!("&added_after={}", encode(after)));
        }
        if let Some(next) = &next {
            url.push_str(&format!("&next={}", encode(next)));
        }
        let mut request = agent.get(&url).header("Accept", api::taxii::MEDIA_TYPE);
        if let (Some(user), Some(password)) = (&feed.username, &feed.password) {
            let credentials =
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
            request = request.header("Authorization", format!("Basic {credentials}"));
        }
        let mut response = request.call().with_context(|| format!("fetching {url}"))?;
        let status = response.status();
        anyhow::ensure!(status.is_success(), "{url} answered {status}");
        let last_added = response
            .headers()
            .get("x-taxii-date-added-last")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = response
            .body_mut()
            .with_config()
            .limit(MAX_PAGE_BYTES)
            .read_to_vec()?;
        let envelope: serde_json::Value =
            serde_json::from_slice(&body).context("the page is not a TAXII envelope")?;
        let objects = envelope
            .get("objects")
            .and_then(serde_json::Value::as_array)
            .cloned()
            .unwrap_or_default();
        n_objects += objects.len();
        let report = intel::import::stix::import_objects(&objects, &options);
        let (summary, _) = intel
            .import_report(report, events)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        n_new += summary.new;
        if last_added.is_some() {
            mark = last_added;
        }
        next = envelope
            .get("next")
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned);
        let more = envelope
            .get("more")
            .and_then(serde_json::Value::as_bool)
            .unwrap_or(false);
        if !more || next.is_none() {
            break;
        }
    }
    if mark != added_after
        && let Some(mark) = mark
    {
        let mut state = state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        state.insert(feed.name.clone(), mark);
        let text = serde_json::to_string_pretty(&*state).expect("a string map serializes");
        write_atomically(state_path, text.as_bytes())
            .with_context(|| format!("writing {}", state_path.display()))?;
    }
    Ok((n_objects, n_new))
}

/// A list feed: fetched whole; what it lists stays valid a while past this poll.
fn poll_list(
    feed: &FeedConfig,
    intel: &api::threat_intel::IntelState,
    events: &dyn store::EventStore,
    agent: &ureq::Agent,
) -> anyhow::Result<(usize, usize)> {
    use base64::Engine as _;
    let url = feed.url.as_deref().expect("validated: one of the two URLs");
    let mut request = agent.get(url);
    if let (Some(user), Some(password)) = (&feed.username, &feed.password) {
        let credentials =
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        request = request.header("Authorization", format!("Basic {credentials}"));
    }
    let mut response = request.call().with_context(|| format!("fetching {url}"))?;
    let status = response.status();
    anyhow::ensure!(status.is_success(), "{url} answered {status}");
    let body = response
        .body_mut()
        .with_config()
        .limit(MAX_PAGE_BYTES * 8)
        .read_to_vec()?;
    let format = feed
        .format
        .as_deref()
        .map(str::parse::<intel::import::FeedFormat>)
        .transpose()
        .map_err(anyhow::Error::msg)?;
    let options =
        intel::ImportOptions::new(&feed.name, tlp(&feed.default_tlp, "feeds.default_tlp")?);
    let mut report = intel::import::import_any(&body, format, &options)?;
    let keep = std::time::Duration::from_secs(feed.interval_secs.saturating_mul(3).max(86_400));
    let until = options.now
        + jiff::SignedDuration::try_from(keep).unwrap_or(jiff::SignedDuration::from_hours(24));
    for indicator in &mut report.indicators {
        indicator.valid_until = Some(indicator.valid_until.map_or(until, |own| own.min(until)));
    }
    let n = report.indicators.len();
    let (summary, _) = intel
        .import_report(report, events)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok((n, summary.new))
}

fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let tmp = path.with_extension("tmp");
    let mut file = std::fs::File::create(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)
}

/// MISP warninglists from `list.json` files or folders of them (searched one level deep:
/// `lists/*/list.json`). A list that cannot be used (regex lists) is skipped with a warning.
pub fn load_warninglists(paths: &[PathBuf]) -> anyhow::Result<intel::Warninglists> {
    let mut lists = intel::Warninglists::new();
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            for entry in
                std::fs::read_dir(path).with_context(|| format!("reading {}", path.display()))?
            {
                let entry = entry?.path();
                let file = if entry.is_dir() {
                    entry.join("list.json")
                } else {
                    entry
                };
                if file.extension().is_some_and(|e| e == "json") && file.is_file() {
                    files.push(file);
                }
            }
        } else {
            files.push(path.clone());
        }
    }
    for file in files {
        let bytes = std::fs::read(&file)
            .with_context(|| format!("reading warninglist {}", file.display()))?;
        match intel::Warninglist::from_json(&bytes) {
            Ok(list) => lists.push(list),
            // A regex list is skipped, not fatal: the others still protect.
            Err(error) => tracing::warn!(path = %file.display(), %error, "warninglist skipped"),
        }
    }
    Ok(lists)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FULL: &str = r#"
        [intel]
        default_tlp = "green"
        warninglists = ["../../../shared/data/intel/warninglists/rfc1918/list.json"]
        blocklist_tokens = ["0123456789abcdef0123"]
        blocklist_max_tlp = "amber"
        retro_match_hours = 12

        [[intel.partners]]
        name = "CERT-X"
        max_tlp = "amber+strict"
        collections = ["indicators"]
        username = "cert-x"
        password_sha256 = "5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8"
        contacts = [{ name = "Ada Rossi", role = "duty officer", email = "soc@cert-x.example", phone = "+39 06 000000" }]

        [[intel.feeds]]
        name = "CERT-X feed"
        collection_url = "https://cert-x.example/taxii2/root/collections/1/"
        username = "city"
        password = "secret"
        interval_secs = 60
    "#;

    fn parse(text: &str) -> anyhow::Result<IntelConfig> {
        #[derive(Deserialize)]
        struct Wrapper {
            intel: IntelConfig,
        }
        let wrapper: Wrapper = toml::from_str(text)?;
        wrapper.intel.validate()?;
        Ok(wrapper.intel)
    }

    #[test]
    fn full_intel_section_builds() {
        let config = parse(FULL).unwrap();
        assert_eq!(config.partners[0].contacts[0].role, "duty officer");
        assert_eq!(config.feeds[0].page_size, 500);
        let dir = tempfile::tempdir().unwrap();
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut config = config;
        config.warninglists =
            vec![root.join("../../../shared/data/intel/warninglists/rfc1918/list.json")];
        let state = config.build(dir.path()).unwrap();
        assert_eq!(state.partners[0].partner.max_tlp, intel::Tlp::AmberStrict);
        assert_eq!(state.blocklist.max_tlp, intel::Tlp::Amber);
        assert!(dir.path().join("intel").is_dir());
    }

    const COLLECTIONS: &str = r#"
        [intel]
        [[intel.collections]]
        name = "indicators"
        writable = true

        [[intel.collections]]
        name = "phishing"
        title = "Phishing"
        sources = ["phishing-reports"]
        kinds = ["url", "domain"]
        max_tlp = "amber"

        [[intel.partners]]
        name = "CERT-X"
        max_tlp = "amber"
        collections = ["indicators", "phishing"]
        username = "cert-x"
        password_sha256 = "5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8"
    "#;

    #[test]
    fn collections_are_configured_and_checked() {
        let config = parse(COLLECTIONS).unwrap();
        let collections = config.collections().unwrap();
        assert_eq!(collections.len(), 2);
        let phishing = &collections[1];
        assert_eq!(phishing.title, "Phishing");
        assert!(!phishing.writable && collections[0].writable);
        assert_eq!(
            phishing.kinds,
            [intel::IndicatorKind::Url, intel::IndicatorKind::Domain]
        );
        assert_eq!(phishing.max_tlp, intel::Tlp::Amber);
        assert_eq!(collections[0].max_tlp, intel::Tlp::Red);
        // None configured: the one default collection.
        let default = parse(FULL).unwrap().collections().unwrap();
        assert_eq!(default, [api::threat_intel::Collection::all_indicators()]);
        for (change, reason) in [
            (
                (
                    "collections = [\"indicators\", \"phishing\"]",
                    "collections = [\"mail\"]",
                ),
                "no collection named mail",
            ),
            (
                ("[\"url\", \"domain\"]", "[\"url\", \"fax\"]"),
                "phishing.kinds",
            ),
            (
                ("name = \"phishing\"", "name = \"indicators\""),
                "named twice",
            ),
            (
                ("name = \"phishing\"", "name = \"a/b\""),
                "a name is letters",
            ),
            (
                ("max_tlp = \"amber\"\n", "max_tlp = \"mauve\"\n"),
                "phishing.max_tlp",
            ),
        ] {
            let text = COLLECTIONS.replacen(change.0, change.1, 1);
            assert_ne!(text, COLLECTIONS, "{reason}");
            let error = format!("{:#}", parse(&text).unwrap_err());
            assert!(error.contains(reason), "{reason}: {error}");
        }
    }

    #[test]
    fn invalid_intel_sections_are_refused_with_the_reason() {
        for (change, reason) in [
            (
                ("max_tlp = \"amber+strict\"", "max_tlp = \"purple\""),
                "partners.CERT-X.max_tlp",
            ),
            (
                (
                    "5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8",
                    "secret",
                ),
                "64 hex digits",
            ),
            (("0123456789abcdef0123", "short"), "at least 16"),
            (
                ("https://cert-x.example", "ftp://cert-x.example"),
                "must be http(s)",
            ),
            (
                (
                    "interval_secs = 60",
                    "interval_secs = 60\nurl = \"https://x.example/l.csv\"",
                ),
                "exactly one of",
            ),
            (
                ("interval_secs = 60", "interval_secs = 60\nsurprise = 1"),
                "unknown field",
            ),
            (
                (
                    "blocklist_max_tlp = \"amber\"",
                    "blocklist_max_tlp = \"red\"",
                ),
                "blocklist_max_tlp cannot be red",
            ),
            (
                (
                    "retro_match_hours = 12",
                    "retro_match_hours = 12\napi_max_tlp = \"red\"",
                ),
                "api_max_tlp cannot be red",
            ),
        ] {
            let text = FULL.replace(change.0, change.1);
            let error = format!("{:#}", parse(&text).unwrap_err());
            assert!(error.contains(reason), "{reason}: {error}");
        }
    }
}

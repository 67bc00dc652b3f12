//! Query execution: the query AST becomes tantivy queries, run over the partitions a
//! time range touches, newest first.

use std::net::IpAddr;
use std::ops::Bound;
use std::time::Instant;

use event::{Event, fields};
use query::Query;
use tantivy::aggregation::agg_req::Aggregations;
use tantivy::aggregation::intermediate_agg_result::IntermediateAggregationResults;
use tantivy::aggregation::{AggContextParams, DistributedAggregationCollector};
use tantivy::collector::{Count, TopDocs};
use tantivy::query::{
    AllQuery, BooleanQuery, EmptyQuery, ExistsQuery, Occur, PhraseQuery, Query as TantivyQuery,
    RangeQuery, RegexQuery, TermQuery,
};
use tantivy::schema::{Field, IndexRecordOption, Term, Value as _};
use tantivy::tokenizer::TokenStream as _;
use tantivy::{DateTime, Order, TantivyDocument};

use crate::embedded::SearchablePartition;
use crate::schema::{EventSchema, text_analyzer, to_ipv6};
use crate::{Aggregation, SearchRequest, SearchResponse, StoreError};

/// Fields searched as full text rather than as keywords.
const TEXT_FIELDS: &[&str] = &["message", "event.original"];

pub(crate) fn run(
    schema: &EventSchema,
    partitions: &[SearchablePartition],
    request: &SearchRequest,
) -> Result<SearchResponse, StoreError> {
    let started = Instant::now();
    let query = with_time_range(schema, translate(schema, &request.query)?, request);
    let aggregations = build_aggregations(&request.aggregations)?;

    let from = request
        .from
        .map(|ts| DateTime::from_timestamp_micros(ts.as_microsecond()));
    let to = request
        .to
        .map(|ts| DateTime::from_timestamp_micros(ts.as_microsecond()));
    let mut total = 0u64;
    let mut hits = Vec::new();
    let mut skip = request.offset;
    let mut merged_aggs: Option<IntermediateAggregationResults> = None;

    // Partitions arrive newest first and hold disjoint days, so pages can be cut
    // partition by partition.
    for partition in partitions {
        let searcher = partition.reader.searcher();
        if !may_hold(&searcher, from, to) {
            continue;
        }
        let want = skip + request.limit.saturating_sub(hits.len());
        let (count, top) = if want > 0 {
            searcher.search(
                &query,
                &(
                    Count,
                    TopDocs::with_limit(want).order_by_fast_field::<DateTime>("ts", Order::Desc),
                ),
            )?
        } else {
            (searcher.search(&query, &Count)?, Vec::new())
        };
        total += count as u64;
        for (_, address) in top.into_iter().skip(skip) {
            let doc: TantivyDocument = searcher.doc(address)?;
            if let Some(event) = doc
                .get_first(schema.source)
                .and_then(|value| value.as_bytes())
                .and_then(|bytes| serde_json::from_slice::<Event>(bytes).ok())
            {
                hits.push(event);
            }
        }
        skip = skip.saturating_sub(count);
        if let Some(aggs) = &aggregations {
            let collector = DistributedAggregationCollector::from_aggs(
                aggs.clone(),
                AggContextParams::default(),
            );
            let fruit = searcher.search(&query, &collector)?;
            match &mut merged_aggs {
                Some(merged) => merged.merge_fruits(fruit)?,
                None => merged_aggs = Some(fruit),
            }
        }
    }

    let mut aggregation_results = serde_json::Map::new();
    if let (Some(aggs), Some(merged)) = (aggregations, merged_aggs) {
        let results = merged.into_final_result(aggs, Default::default())?;
        if let Ok(serde_json::Value::Object(map)) = serde_json::to_value(&results) {
            aggregation_results = map;
        }
    }
    Ok(SearchResponse {
        total,
        hits,
        aggregations: aggregation_results,
        took_ms: started.elapsed().as_millis() as u64,
    })
}

/// Whether a partition may hold events in `[from, to)`, from the time column's bounds in
/// each segment. Exact, unlike the partition's day: events with implausible clocks are
/// kept in the nearest plausible partition (see `embedded::partition_day`).
fn may_hold(searcher: &tantivy::Searcher, from: Option<DateTime>, to: Option<DateTime>) -> bool {
    if from.is_none() && to.is_none() {
        return true;
    }
    searcher.segment_readers().iter().any(|segment| {
        let Ok(column) = segment.fast_fields().date("ts") else {
            return true;
        };
        if column.num_docs() == 0 {
            return false;
        }
        from.is_none_or(|from| column.max_value() >= from)
            && to.is_none_or(|to| column.min_value() < to)
    })
}

fn with_time_range(
    schema: &EventSchema,
    query: Box<dyn TantivyQuery>,
    request: &SearchRequest,
) -> Box<dyn TantivyQuery> {
    if request.from.is_none() && request.to.is_none() {
        return query;
    }
    let bound = |ts: Option<jiff::Timestamp>, inclusive: bool| match ts {
        None => Bound::Unbounded,
        Some(ts) => {
            let term = Term::from_field_date(
                schema.ts,
                DateTime::from_timestamp_micros(ts.as_microsecond()),
            );
            if inclusive {
                Bound::Included(term)
            } else {
                Bound::Excluded(term)
            }
        }
    };
    let range = RangeQuery::new(bound(request.from, true), bound(request.to, false));
    Box::new(BooleanQuery::new(vec![
        (Occur::Must, query),
        (Occur::Must, Box::new(range)),
    ]))
}

fn build_aggregations(requested: &[Aggregation]) -> Result<Option<Aggregations>, StoreError> {
    if requested.is_empty() {
        return Ok(None);
    }
    let mut spec = serde_json::Map::new();
    for aggregation in requested {
        let (name, body) = match aggregation {
            Aggregation::Terms { name, field, size } => {
                if !crate::schema::is_aggregatable(field) {
                    return Err(StoreError::InvalidQuery(format!(
                        "`{field}` cannot be aggregated; aggregatable fields are labels.* and {}",
                        crate::schema::AGGREGATABLE_FIELDS.join(", ")
                    )));
                }
                (
                    name,
                    serde_json::json!({"terms": {"field": format!("agg.{field}"), "size": size}}),
                )
            }
            Aggregation::DateHistogram {
                name,
                interval_secs,
            } => (
                name,
                serde_json::json!({"date_histogram": {
                    "field": "ts",
                    "fixed_interval": format!("{}s", interval_secs.max(&1)),
                }}),
            ),
        };
        spec.insert(name.clone(), body);
    }
    serde_json::from_value(serde_json::Value::Object(spec))
        .map(Some)
        .map_err(|err| StoreError::InvalidQuery(format!("invalid aggregation: {err}")))
}

/// Translates the search language AST into a tantivy query.
pub(crate) fn translate(
    schema: &EventSchema,
    query: &Query,
) -> Result<Box<dyn TantivyQuery>, StoreError> {
    Ok(match query {
        Query::All => Box::new(AllQuery),
        Query::Term { field: None, value }
        | Query::Phrase {
            field: None,
            text: value,
        } => full_text(schema.text, value),
        Query::Term {
            field: Some(field),
            value,
        } => field_value(schema, field, value)?,
        Query::Phrase {
            field: Some(field),
            text,
        } => {
            if TEXT_FIELDS.contains(&field.as_str()) {
                full_text(schema.text, text)
            } else {
                field_value(schema, field, text)?
            }
        }
        Query::Wildcard { field, pattern } => wildcard(schema, field.as_deref(), pattern)?,
        Query::Range {
            field,
            lower,
            upper,
        } => range(schema, field, lower, upper)?,
        Query::Cidr { field, net } => {
            let Some(ip_field) = schema.ip_field(field) else {
                return Err(StoreError::InvalidQuery(format!(
                    "`{field}` is not an IP field; CIDR queries work on {}",
                    fields::IP_FIELDS.join(", ")
                )));
            };
            let lower = Term::from_field_ip_addr(ip_field, to_ipv6(net.network()));
            let upper = Term::from_field_ip_addr(ip_field, to_ipv6(net.broadcast()));
            Box::new(RangeQuery::new(
                Bound::Included(lower),
                Bound::Included(upper),
            ))
        }
        Query::Exists { field } => exists(schema, field),
        Query::And(clauses) => {
            let mut subqueries = Vec::with_capacity(clauses.len() + 1);
            let mut any_positive = false;
            for clause in clauses {
                match clause {
                    Query::Not(inner) => {
                        subqueries.push((Occur::MustNot, translate(schema, inner)?));
                    }
                    other => {
                        any_positive = true;
                        subqueries.push((Occur::Must, translate(schema, other)?));
                    }
                }
            }
            if !any_positive {
                subqueries.push((Occur::Must, Box::new(AllQuery)));
            }
            Box::new(BooleanQuery::new(subqueries))
        }
        Query::Or(clauses) => {
            let subqueries = clauses
                .iter()
                .map(|clause| Ok((Occur::Should, translate(schema, clause)?)))
                .collect::<Result<Vec<_>, StoreError>>()?;
            Box::new(BooleanQuery::new(subqueries))
        }
        Query::Not(inner) => Box::new(BooleanQuery::new(vec![
            (Occur::Must, Box::new(AllQuery)),
            (Occur::MustNot, translate(schema, inner)?),
        ])),
    })
}

fn full_text(field: Field, text: &str) -> Box<dyn TantivyQuery> {
    let mut analyzer = text_analyzer();
    let mut stream = analyzer.token_stream(text);
    let mut terms = Vec::new();
    while stream.advance() {
        terms.push(Term::from_field_text(field, &stream.token().text));
    }
    match terms.len() {
        0 => Box::new(EmptyQuery),
        1 => Box::new(TermQuery::new(
            terms.pop().expect("one term"),
            IndexRecordOption::Basic,
        )),
        _ => Box::new(PhraseQuery::new(terms)),
    }
}

/// `field:value` on a keyword field: exact (case-insensitive) match, plus the numeric
/// and IP interpretations of the value when it has them.
fn field_value(
    schema: &EventSchema,
    field: &str,
    value: &str,
) -> Result<Box<dyn TantivyQuery>, StoreError> {
    if TEXT_FIELDS.contains(&field) {
        return Ok(full_text(schema.text, value));
    }
    if field == fields::TIMESTAMP {
        let ts = parse_time(value)?;
        let term = Term::from_field_date(
            schema.ts,
            DateTime::from_timestamp_micros(ts.as_microsecond()),
        );
        return Ok(Box::new(TermQuery::new(term, IndexRecordOption::Basic)));
    }
    let mut alternatives: Vec<(Occur, Box<dyn TantivyQuery>)> = Vec::new();
    let mut term = json_term(schema.f, field);
    term.append_type_and_str(&value.to_lowercase());
    alternatives.push((
        Occur::Should,
        Box::new(TermQuery::new(term, IndexRecordOption::Basic)),
    ));
    if let Ok(int) = value.parse::<i64>() {
        let mut term = json_term(schema.f, field);
        term.append_type_and_fast_value(int);
        alternatives.push((
            Occur::Should,
            Box::new(TermQuery::new(term, IndexRecordOption::Basic)),
        ));
        if let Ok(unsigned) = u64::try_from(int) {
            let mut term = json_term(schema.f, field);
            term.append_type_and_fast_value(unsigned);
            alternatives.push((
                Occur::Should,
                Box::new(TermQuery::new(term, IndexRecordOption::Basic)),
            ));
        }
    } else if let Ok(float) = value.parse::<f64>() {
        let mut term = json_term(schema.f, field);
        term.append_type_and_fast_value(float);
        alternatives.push((
            Occur::Should,
            Box::new(TermQuery::new(term, IndexRecordOption::Basic)),
        ));
    }
    if let (Some(ip_field), Ok(ip)) = (schema.ip_field(field), value.parse::<IpAddr>()) {
        // IPv6 has many spellings; the IP field matches them all.
        let term = Term::from_field_ip_addr(ip_field, to_ipv6(ip));
        alternatives.push((
            Occur::Should,
            Box::new(TermQuery::new(term, IndexRecordOption::Basic)),
        ));
    }
    Ok(if alternatives.len() == 1 {
        alternatives.pop().expect("one alternative").1
    } else {
        Box::new(BooleanQuery::new(alternatives))
    })
}

fn json_term(field: Field, path: &str) -> Term {
    Term::from_field_json_path(field, path, true)
}

fn exists(schema: &EventSchema, field: &str) -> Box<dyn TantivyQuery> {
    if TEXT_FIELDS.contains(&field) || field == fields::TIMESTAMP {
        // Every stored event has a timestamp and an original.
        return Box::new(AllQuery);
    }
    // Text and booleans: any term at this path or below it (`_exists_:url` matches
    // `url.full`). Numbers are binary in the term dictionary, out of a regex's reach,
    // but they all have a column in `n`.
    let regex = format!("{}(\\x01.*)?\\x00.*", json_path_regex(field));
    let text: Box<dyn TantivyQuery> = match RegexQuery::from_pattern(&regex, schema.f) {
        Ok(query) => Box::new(query),
        Err(_) => Box::new(EmptyQuery),
    };
    let numeric = ExistsQuery::new(format!("n.{field}"), true);
    Box::new(BooleanQuery::new(vec![
        (Occur::Should, text),
        (Occur::Should, Box::new(numeric)),
    ]))
}

/// A JSON path as the start of a term-dictionary key of a JSON field: segments joined
/// by 0x01 (followed by 0x00, the type code and the value).
fn json_path_regex(field: &str) -> String {
    let mut regex = String::new();
    for (idx, segment) in field.split('.').enumerate() {
        if idx > 0 {
            regex.push_str("\\x01");
        }
        regex.push_str(&regex_syntax_escape(segment));
    }
    regex
}

fn wildcard(
    schema: &EventSchema,
    field: Option<&str>,
    pattern: &str,
) -> Result<Box<dyn TantivyQuery>, StoreError> {
    if pattern == "*" {
        return Ok(match field {
            Some(field) => exists(schema, field),
            None => Box::new(AllQuery),
        });
    }
    let value_regex = wildcard_regex(&pattern.to_lowercase());
    let (regex, target) = match field {
        None => (value_regex, schema.text),
        Some(field) if TEXT_FIELDS.contains(&field) => (value_regex, schema.text),
        Some(field) => {
            let mut regex = json_path_regex(field);
            regex.push_str("\\x00s");
            regex.push_str(&value_regex);
            (regex, schema.f)
        }
    };
    RegexQuery::from_pattern(&regex, target)
        .map(|query| Box::new(query) as Box<dyn TantivyQuery>)
        .map_err(|err| StoreError::InvalidQuery(format!("invalid wildcard `{pattern}`: {err}")))
}

/// `*` → any run, `?` → one character, `\x` → literal x.
fn wildcard_regex(pattern: &str) -> String {
    let mut regex = String::with_capacity(pattern.len() * 2);
    let mut chars = pattern.chars();
    while let Some(ch) = chars.next() {
        match ch {
            '*' => regex.push_str(".*"),
            '?' => regex.push('.'),
            '\\' => {
                if let Some(escaped) = chars.next() {
                    regex.push_str(&regex_syntax_escape(&escaped.to_string()));
                }
            }
            other => regex.push_str(&regex_syntax_escape(&other.to_string())),
        }
    }
    regex
}

fn regex_syntax_escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for ch in text.chars() {
        if "\\.+*?()|[]{}^$#&-~\"<>@".contains(ch) {
            escaped.push('\\');
        }
        escaped.push(ch);
    }
    escaped
}

fn range(
    schema: &EventSchema,
    field: &str,
    lower: &Bound<String>,
    upper: &Bound<String>,
) -> Result<Box<dyn TantivyQuery>, StoreError> {
    let is_open = |text: &str| text == "*";
    let map_bound = |bound: &Bound<String>,
                     make: &dyn Fn(&str) -> Result<Term, StoreError>|
     -> Result<Bound<Term>, StoreError> {
        Ok(match bound {
            Bound::Unbounded => Bound::Unbounded,
            Bound::Included(text) if is_open(text) => Bound::Unbounded,
            Bound::Excluded(text) if is_open(text) => Bound::Unbounded,
            Bound::Included(text) => Bound::Included(make(text)?),
            Bound::Excluded(text) => Bound::Excluded(make(text)?),
        })
    };
    if field == fields::TIMESTAMP {
        let make = |text: &str| -> Result<Term, StoreError> {
            let ts = parse_time(text)?;
            Ok(Term::from_field_date(
                schema.ts,
                DateTime::from_timestamp_micros(ts.as_microsecond()),
            ))
        };
        return Ok(Box::new(RangeQuery::new(
            map_bound(lower, &make)?,
            map_bound(upper, &make)?,
        )));
    }
    let bound_texts: Vec<&str> = [lower, upper]
        .into_iter()
        .filter_map(|bound| match bound {
            Bound::Included(text) | Bound::Excluded(text) if !is_open(text) => Some(text.as_str()),
            _ => None,
        })
        .collect();
    if let Some(ip_field) = schema.ip_field(field)
        && bound_texts
            .iter()
            .all(|text| text.parse::<IpAddr>().is_ok())
    {
        let make = |text: &str| -> Result<Term, StoreError> {
            let ip: IpAddr = text
                .parse()
                .map_err(|_| StoreError::InvalidQuery(format!("`{text}` is not an IP address")))?;
            Ok(Term::from_field_ip_addr(ip_field, to_ipv6(ip)))
        };
        return Ok(Box::new(RangeQuery::new(
            map_bound(lower, &make)?,
            map_bound(upper, &make)?,
        )));
    }
    if bound_texts.iter().all(|text| text.parse::<f64>().is_ok()) {
        // Numbers, and strings that are numbers, are columns of `n`, as integers or
        // floats: ask both columns.
        let mut alternatives: Vec<(Occur, Box<dyn TantivyQuery>)> = Vec::new();
        let make_f64 = |text: &str| -> Result<Term, StoreError> {
            let mut term = json_term(schema.n, field);
            term.append_type_and_fast_value(
                text.parse::<f64>()
                    .map_err(|_| StoreError::InvalidQuery(format!("`{text}` is not a number")))?,
            );
            Ok(term)
        };
        alternatives.push((
            Occur::Should,
            Box::new(RangeQuery::new(
                map_bound(lower, &make_f64)?,
                map_bound(upper, &make_f64)?,
            )),
        ));
        if bound_texts.iter().all(|text| text.parse::<i64>().is_ok()) {
            let make_i64 = |text: &str| -> Result<Term, StoreError> {
                let mut term = json_term(schema.n, field);
                term.append_type_and_fast_value(text.parse::<i64>().map_err(|_| {
                    StoreError::InvalidQuery(format!("`{text}` is not an integer"))
                })?);
                Ok(term)
            };
            alternatives.push((
                Occur::Should,
                Box::new(RangeQuery::new(
                    map_bound(lower, &make_i64)?,
                    map_bound(upper, &make_i64)?,
                )),
            ));
        }
        return Ok(Box::new(BooleanQuery::new(alternatives)));
    }
    if !crate::schema::is_aggregatable(field) {
        return Err(StoreError::InvalidQuery(format!(
            "a range of text values needs an aggregatable field, and `{field}` is not one (numbers, IP addresses and @timestamp work on every field)"
        )));
    }
    let make_str = |text: &str| -> Result<Term, StoreError> {
        let mut term = json_term(schema.agg, field);
        term.append_type_and_str(text);
        Ok(term)
    };
    Ok(Box::new(RangeQuery::new(
        map_bound(lower, &make_str)?,
        map_bound(upper, &make_str)?,
    )))
}

/// RFC 3339 timestamps, plain dates (`2024-01-31`, midnight UTC) and `now`.
pub(crate) fn parse_time(text: &str) -> Result<jiff::Timestamp, StoreError> {
    if text.eq_ignore_ascii_case("now") {
        return Ok(jiff::Timestamp::now());
    }
    if let Ok(ts) = text.parse::<jiff::Timestamp>() {
        return Ok(ts);
    }
    if let Ok(date) = text.parse::<jiff::civil::Date>() {
        return date
            .to_zoned(jiff::tz::TimeZone::UTC)
            .map(|zoned| zoned.timestamp())
            .map_err(|err| StoreError::InvalidQuery(format!("invalid date `{text}`: {err}")));
    }
    Err(StoreError::InvalidQuery(format!(
        "`{text}` is not a time (use RFC 3339, e.g. 2024-01-31T12:00:00Z, or a date)"
    )))
}

#[cfg(test)]
mod tests;

/// [`crate::EventStore::scan`] over partitions given oldest first.
pub(crate) fn scan(
    schema: &EventSchema,
    partitions: &[SearchablePartition],
    request: &crate::ScanRequest,
    max_slice: usize,
    visit: &mut dyn FnMut(Event) -> bool,
) -> Result<crate::ScanStats, StoreError> {
    let query = translate(schema, &request.query)?;
    let mut stats = crate::ScanStats::default();
    for partition in partitions {
        let searcher = partition.reader.searcher();
        let Some((min, max)) = time_bounds(&searcher) else {
            continue;
        };
        let from = request
            .from
            .map_or(min, |from| from.as_microsecond().max(min));
        let to = request.to.map_or(max.saturating_add(1), |to| {
            to.as_microsecond().min(max.saturating_add(1))
        });
        if from >= to {
            continue;
        }
        let slice = Slice {
            schema,
            searcher: &searcher,
            query: &*query,
            max_slice,
        };
        if !slice.scan(from, to, visit, &mut stats)? {
            stats.stopped = true;
            break;
        }
    }
    Ok(stats)
}

/// The smallest and largest event time (microseconds) of a partition's segments.
fn time_bounds(searcher: &tantivy::Searcher) -> Option<(i64, i64)> {
    let mut bounds: Option<(i64, i64)> = None;
    for segment in searcher.segment_readers() {
        let Ok(column) = segment.fast_fields().date("ts") else {
            continue;
        };
        if column.num_docs() == 0 {
            continue;
        }
        let (lo, hi) = (
            column.min_value().into_timestamp_micros(),
            column.max_value().into_timestamp_micros(),
        );
        bounds = Some(match bounds {
            Some((a, b)) => (a.min(lo), b.max(hi)),
            None => (lo, hi),
        });
    }
    bounds
}

/// One partition being scanned.
struct Slice<'a> {
    schema: &'a EventSchema,
    searcher: &'a tantivy::Searcher,
    query: &'a dyn TantivyQuery,
    /// Most matches read at once.
    max_slice: usize,
}

impl Slice<'_> {
    /// Visits the matches in `[from, to)` (microseconds) in time order; `Ok(false)` when
    /// `visit` asked to stop. A slice with more than `max_slice` matches is split in two
    /// halves of time.
    fn scan(
        &self,
        from: i64,
        to: i64,
        visit: &mut dyn FnMut(Event) -> bool,
        stats: &mut crate::ScanStats,
    ) -> Result<bool, StoreError> {
        let bound = |micros: i64| {
            Term::from_field_date(self.schema.ts, DateTime::from_timestamp_micros(micros))
        };
        let query = BooleanQuery::new(vec![
            (Occur::Must, self.query.box_clone()),
            (
                Occur::Must,
                Box::new(RangeQuery::new(
                    Bound::Included(bound(from)),
                    Bound::Excluded(bound(to)),
                )),
            ),
        ]);
        let count = self.searcher.search(&query, &Count)?;
        if count == 0 {
            return Ok(true);
        }
        if count > self.max_slice && to - from > 1 {
            let middle = from + (to - from) / 2;
            return Ok(
                self.scan(from, middle, visit, stats)? && self.scan(middle, to, visit, stats)?
            );
        }
        let addresses = self
            .searcher
            .search(&query, &tantivy::collector::DocSetCollector)?;
        let mut keyed = Vec::with_capacity(addresses.len());
        let segments = self.searcher.segment_readers();
        let mut columns = Vec::with_capacity(segments.len());
        for segment in segments {
            let fast = segment.fast_fields();
            columns.push((fast.date("ts").ok(), fast.u64("seq").ok()));
        }
        for address in addresses {
            let (ts, seq) = &columns[address.segment_ord as usize];
            let ts = ts
                .as_ref()
                .and_then(|c| c.first(address.doc_id))
                .map_or(i64::MIN, DateTime::into_timestamp_micros);
            let seq = seq
                .as_ref()
                .and_then(|c| c.first(address.doc_id))
                .unwrap_or(0);
            keyed.push((ts, seq, address));
        }
        keyed.sort_unstable_by_key(|&(ts, seq, address)| {
            (ts, seq, address.segment_ord, address.doc_id)
        });
        for (_, _, address) in keyed {
            let doc: TantivyDocument = self.searcher.doc(address)?;
            let Some(event) = doc
                .get_first(self.schema.source)
                .and_then(|value| value.as_bytes())
                .and_then(|bytes| serde_json::from_slice::<Event>(bytes).ok())
            else {
                continue;
            };
            stats.visited += 1;
            if !visit(event) {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

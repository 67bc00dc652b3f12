//! The general signals added to reach more of real phishing (docs/phishing-eval.md, "Added
//! rules"): each fires on a synthetic message built for it, and not on the same message
//! without the trick. No corpus file is used here.

use phish::{Analyzer, AnalyzerConfig, Language, OfflineDns, Report, looks_like_message};

fn analyze(raw: &str) -> Report {
    Analyzer::new(AnalyzerConfig::default())
        .analyze(raw.replace('\n', "\r\n").as_bytes(), &OfflineDns)
}

fn codes(raw: &str) -> Vec<&'static str> {
    analyze(raw).findings.iter().map(|f| f.code).collect()
}

#[track_caller]
fn fires(raw: &str, code: &str) {
    let report = analyze(raw);
    let finding = report
        .findings
        .iter()
        .find(|f| f.code == code)
        .unwrap_or_else(|| panic!("expected {code} in {:?}", report.findings));
    // Every reason reads in both languages.
    assert!(!finding.en.is_empty() && !finding.it.is_empty());
    assert_ne!(finding.en, finding.it);
}

#[track_caller]
fn silent(raw: &str, code: &str) {
    let codes = codes(raw);
    assert!(!codes.contains(&code), "{code} fired: {codes:?}");
}

/// An ordinary message between colleagues of two organisations.
const PLAIN: &str = "From: Anna Rossi <anna.rossi@partner.example.org>
To: mario@comune.example.it
Subject: Verbale riunione
Message-ID: <1@partner.example.org>
Date: Mon, 2 Nov 2026 10:00:00 +0100

Ciao Mario, ti mando il verbale della riunione di ieri.
Trovi la documentazione su https://www.partner.example.org/verbali
Anna
";

fn with_from(from: &str) -> String {
    PLAIN.replace("Anna Rossi <anna.rossi@partner.example.org>", from)
}

fn with_body(body: &str) -> String {
    PLAIN.replace(
        "Ciao Mario, ti mando il verbale della riunione di ieri.",
        body,
    )
}

#[test]
fn malformed_from_field() {
    fires(
        &with_from("\"Prize Team\", xy <service@mailer.example.net>"),
        "header.malformed_from",
    );
    fires(
        &with_from("\"Gift card\", <>, \"Gift card\", <service@mailer.example.net>"),
        "header.malformed_from",
    );
    silent(PLAIN, "header.malformed_from");
}

#[test]
fn sender_on_a_free_app_platform() {
    fires(
        &with_from("Cloud Storage <noreply@project-1a2b3.firebaseapp.com>"),
        "header.free_hosting_sender",
    );
    // The platform's own domain is the platform writing, not one of its tenants.
    silent(
        &with_from("Typeform <notifications@typeform.com>"),
        "header.free_hosting_sender",
    );
    silent(PLAIN, "header.free_hosting_sender");
}

#[test]
fn random_case_mailbox() {
    fires(
        &with_from("Home Offers <lwInMxAeQ@deals.example.com>"),
        "header.random_mailbox",
    );
    for from in [
        "Quotes <DoNotReply@example.com>",
        "Mario <MarioRossi@example.com>",
        "Desk <HELPDESK@example.com>",
        "News <news-2024@example.com>",
    ] {
        silent(&with_from(from), "header.random_mailbox");
    }
}

#[test]
fn one_letter_host_chain() {
    fires(
        &with_from("Care <john_smith_123@a.b.c.d.e.example.com>"),
        "header.odd_sender_host",
    );
    silent(
        &with_from("Care <care@mail.eu.example.com>"),
        "header.odd_sender_host",
    );
}

#[test]
fn display_name_with_look_alike_letters() {
    // Cyrillic М and е inside a Latin word; Greek Α in THΑLES.
    fires(
        &with_from("МеtaМask <post@mailer.example.net>"),
        "header.display_name_disguised",
    );
    fires(
        &with_from("THΑLES Group <noreply@mailer.example.net>"),
        "header.display_name_disguised",
    );
    // Names in one script, whatever the script, and Chinese mixed with Latin, are fine.
    for from in [
        "Иван Петров <ivan@example.ru>",
        "Ελένη Παπαδοπούλου <eleni@example.gr>",
        "购买iPhone <shop@example.cn>",
        "José Müller <jose@example.org>",
    ] {
        silent(&with_from(from), "header.display_name_disguised");
    }
}

#[test]
fn look_alike_words_in_the_text() {
    let raw = with_body("Your wallеt is suspеnded: rеstore it now.");
    fires(&raw, "text.lookalike_words");
    silent(
        &with_body("Привет, Mario! Ecco il verbale, Ελλάδα inclusa."),
        "text.lookalike_words",
    );
}

#[test]
fn brand_in_display_name_through_confusables_and_service_words() {
    // A confusable spelling names the brand.
    fires(
        &with_from("PayPaI Service <service@mailer.example.net>"),
        "header.brand_display_name",
    );
    // A brand that is also a word counts when the name is only the brand and service words…
    fires(
        &with_from("Ledger Support <noreply@mailer.example.net>"),
        "header.brand_display_name",
    );
    // …not inside a person's or a newspaper's name.
    silent(
        &with_from("The Ledger Daily <news@ledger-daily.example.com>"),
        "header.brand_display_name",
    );
    // No address at all.
    fires(&with_from("Facebook <>"), "header.brand_display_name");
    // The brand's own domain.
    silent(
        &with_from("PayPal <service@paypal.com>"),
        "header.brand_display_name",
    );
}

#[test]
fn brand_whose_links_go_elsewhere() {
    let raw = with_from("PayPal <service@mailer.example.net>").replace(
        "https://www.partner.example.org/verbali",
        "https://login.example.top/pp",
    );
    fires(&raw, "link.not_brand");
    // A partner sending for the brand, with links to the brand's site: not this finding.
    let partner = with_from("PayPal <service@mailer.example.net>").replace(
        "https://www.partner.example.org/verbali",
        "https://www.paypal.com/it/",
    );
    silent(&partner, "link.not_brand");
}

#[test]
fn organisation_replies_to_a_free_mailbox() {
    let raw = PLAIN.replace(
        "Message-ID:",
        "Reply-To: director.fund@gmail.com\nMessage-ID:",
    );
    let report = analyze(&raw);
    let finding = report
        .findings
        .iter()
        .find(|f| f.code == "header.reply_to_mismatch")
        .expect("reply-to finding");
    assert_eq!(finding.weight, 4);
    // From one free mailbox to another provider's: as strong since the third round (a
    // throw-away sender, answers collected elsewhere).
    let freemail = raw.replace("anna.rossi@partner.example.org", "anna.rossi@yahoo.com");
    let report = analyze(&freemail);
    let finding = report
        .findings
        .iter()
        .find(|f| f.code == "header.reply_to_mismatch")
        .expect("reply-to finding");
    assert_eq!(finding.weight, 4);
}

#[test]
fn lures_in_more_languages() {
    for (body, code) in [
        (
            "Sie wurden ausgewählt! Bestätigen Sie Ihre Angaben noch heute.",
            "text.credential_phrase",
        ),
        (
            "Votre compte sera suspendu. Confirmez vos informations.",
            "text.credential_phrase",
        ),
        (
            "Actualice su información de pago para renovar su suscripción.",
            "text.credential_phrase",
        ),
        (
            "Sua encomenda está retida: taxa alfandegária pendente. Confirme seus dados.",
            "text.credential_phrase",
        ),
        (
            "Bevestig uw gegevens, anders wordt uw account geblokkeerd.",
            "text.credential_phrase",
        ),
        (
            "Claim free NFTs: mint now, staking rewards and tokens for early users.",
            "text.scam_offer",
        ),
        (
            "Keine Einzahlung nötig: 300 Freispiele und Willkommensbonus!",
            "text.scam_offer",
        ),
        (
            "Your package is held: pay the customs fee to schedule a redelivery. Payment today, urgent.",
            "text.pressure",
        ),
    ] {
        fires(&with_body(body), code);
    }
    silent(PLAIN, "text.credential_phrase");
    silent(PLAIN, "text.scam_offer");
}

#[test]
fn advance_fee_with_a_large_sum() {
    fires(
        &with_body("I have deposited US$5,000,000.00 for you. Contact the security company."),
        "text.advance_fee",
    );
    // A phrase shared by two families counts in both ("inheritance": reward and advance fee).
    fires(
        &with_body("Dear friend, the inheritance of my late husband awaits a beneficiary."),
        "text.advance_fee",
    );
    // Money in the news is not advance-fee fraud by itself.
    silent(
        &with_body("The company raised $25,000,000 in its last funding round."),
        "text.advance_fee",
    );
}

#[test]
fn new_reasons_read_in_italian() {
    let raw = with_from("МеtaМask <lwInMxAeQ@x-1a2b.firebaseapp.com>");
    let report = analyze(&raw);
    let italian = report.reasons(Language::It).join("\n");
    assert!(italian.contains("piattaforma gratuita"), "{italian}");
    assert!(italian.contains("stringa casuale"), "{italian}");
    assert!(italian.contains("lettere somiglianti"), "{italian}");
}

#[test]
fn what_looks_like_a_message() {
    assert!(looks_like_message(PLAIN.as_bytes()));
    assert!(looks_like_message(
        b"Received: from x by y\r\n\tfolded\r\nFrom: a@b\r\n\r\nbody"
    ));
    assert!(looks_like_message(
        b"From a@b Mon Nov 2 10:00:00 2026\nFrom: a@b\n\nbody"
    ));
    assert!(looks_like_message(b"\xEF\xBB\xBFSubject: hi\n\nbody"));
    assert!(!looks_like_message(
        b"MIT License\n\nCopyright (c) 2023\n\nPermission is hereby granted"
    ));
    assert!(!looks_like_message(b"# README\n\nNote: this is not mail\n"));
    assert!(!looks_like_message(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"));
    assert!(!looks_like_message(b""));
    // A field-like first line but no mail header at all.
    assert!(!looks_like_message(b"Name: value\nOther: x\n\nbody"));
}

proptest::proptest! {
    #[test]
    fn looks_like_message_never_panics(raw in proptest::collection::vec(proptest::num::u8::ANY, 0..4096)) {
        let _ = looks_like_message(&raw);
    }
}

// Third round (docs/phishing-eval.md).

fn with_headers(extra: &str) -> String {
    PLAIN.replace("Message-ID:", &format!("{extra}\nMessage-ID:"))
}

#[test]
fn list_exemption_needs_a_real_list_identifier() {
    let reply_elsewhere = "Reply-To: offers@another-company.example.com";
    fires(&with_headers(reply_elsewhere), "header.reply_to_mismatch");
    // RFC 2919: `<label.namespace>`. A bare label is not a list identifier.
    fires(
        &with_headers(&format!(
            "{reply_elsewhere}\nList-Id: jw316v6bpne4c <Offers>"
        )),
        "header.reply_to_mismatch",
    );
    silent(
        &with_headers(&format!(
            "{reply_elsewhere}\nList-Id: Announcements <announce.lists.example.org>"
        )),
        "header.reply_to_mismatch",
    );
}

#[test]
fn order_notice_from_a_free_mailbox() {
    let gmail = |subject: &str| {
        with_from("Manuel Nelson <chx.dtwen@gmail.com>")
            .replace("Subject: Verbale riunione", &format!("Subject: {subject}"))
    };
    fires(
        &gmail("Your order 467290 is on its way!"),
        "header.freemail_transaction",
    );
    fires(
        &gmail("Fatura do cartão - setembro"),
        "header.freemail_transaction",
    );
    silent(&gmail("Verbale riunione"), "header.freemail_transaction");
    fires(
        &gmail("OrderConfirmation:93345881"),
        "header.freemail_transaction",
    );
    silent(&gmail("Bordered notes"), "header.freemail_transaction");
    // A business's own domain may bill.
    silent(
        &PLAIN.replace("Subject: Verbale riunione", "Subject: Your order 467290"),
        "header.freemail_transaction",
    );
    // Billing in a brand's name from Gmail: the callback-scam pattern.
    let billed = gmail("Invoice 933314").replace(
        "Ciao Mario, ti mando il verbale della riunione di ieri.",
        "Pay Pal invoice receipt: $490.15 for Digital Protection. Call us to cancel.",
    );
    fires(&billed, "text.brand_bill_from_freemail");
    silent(&gmail("Invoice 933314"), "text.brand_bill_from_freemail");
}

#[test]
fn subject_words_run_together() {
    let subject = |s: &str| PLAIN.replace("Subject: Verbale riunione", &format!("Subject: {s}"));
    fires(
        &subject("Transfer__to__your__Bitcoin__address__0.7495__BTC"),
        "header.subject_joined_words",
    );
    fires(
        &subject("Now.get.up.to.1.BTC"),
        "header.subject_joined_words",
    );
    // File names, versions, ellipses and host names are not disguised words.
    silent(
        &subject("CVS: spamassassin/t db_based_whitelist.t,1.6.4.1"),
        "header.subject_joined_words",
    );
    silent(
        &subject("parachute into water...glub...glub...glub.."),
        "header.subject_joined_words",
    );
    silent(
        &subject("see www.lists.example.org now"),
        "header.subject_joined_words",
    );
    silent(
        &subject("release 1.2.3.4 ready"),
        "header.subject_joined_words",
    );
}

#[test]
fn app_platform_sender_linking_elsewhere() {
    let tenant = with_from("Easy Canvas <noreply@autoproj-zh0orp.firebaseapp.com>");
    let elsewhere = tenant.replace(
        "https://www.partner.example.org/verbali",
        "https://grab-offer.example.shop/c",
    );
    fires(&elsewhere, "link.platform_elsewhere");
    // The app's own mail leads to the app.
    let own = tenant.replace(
        "https://www.partner.example.org/verbali",
        "https://autoproj-zh0orp.firebaseapp.com/__/auth/action?mode=resetPassword",
    );
    silent(&own, "link.platform_elsewhere");
    silent(PLAIN, "link.platform_elsewhere");
}

#[test]
fn brand_domain_that_nothing_authenticates() {
    let from_brand = |results: &str| {
        with_from("MediaMarkt <onlineshop@mediamarkt.de>").replace(
            "From:",
            &format!("Authentication-Results: {results}\nFrom:"),
        )
    };
    // The receiver's SPF passed for another domain, no signature: nothing vouches for
    // MediaMarkt (no DMARC record hides the failure, it does not excuse it).
    fires(
        &from_brand(
            "spf=pass (sender IP is 176.113.82.54) smtp.mailfrom=beationev.example; dkim=none (message not signed) header.d=none;dmarc=none action=none header.from=mediamarkt.de;",
        ),
        "auth.brand_domain_unauthenticated",
    );
    // Signed by the brand (second signature), or SPF for the brand's own domain: aligned.
    silent(
        &from_brand(
            "spf=pass smtp.mailfrom=esp.example; dkim=pass header.d=esp.example;dkim=pass header.d=mediamarkt.de;dmarc=none action=none header.from=mediamarkt.de;",
        ),
        "auth.brand_domain_unauthenticated",
    );
    silent(
        &from_brand(
            "spf=pass smtp.mailfrom=news.mediamarkt.de; dkim=none header.d=none;dmarc=none header.from=mediamarkt.de;",
        ),
        "auth.brand_domain_unauthenticated",
    );
    // Not a brand: unauthenticated mail of an unknown domain is only weakly suspicious.
    let other = PLAIN.replace(
        "From:",
        "Authentication-Results: spf=pass smtp.mailfrom=elsewhere.example; dkim=none header.d=none;dmarc=none header.from=partner.example.org;\nFrom:",
    );
    silent(&other, "auth.brand_domain_unauthenticated");
}

#[test]
fn someone_from_a_brand() {
    fires(
        &with_from("Katie From Ledger <support@events.example.com>"),
        "header.brand_display_name",
    );
    // The word alone, in a name that is not the brand speaking.
    silent(
        &with_from("The Ledger Daily <news@ledger-daily.example.com>"),
        "header.brand_display_name",
    );
    silent(
        &with_from("Katie Ledger <katie@example.com>"),
        "header.brand_display_name",
    );
}

#[test]
fn text_pushed_off_the_page() {
    let html = |style: &str| {
        PLAIN.replace(
            "Message-ID:",
            "MIME-Version: 1.0\nContent-Type: text/html; charset=utf-8\nMessage-ID:",
        )
        .replace(
            "Ciao Mario, ti mando il verbale della riunione di ieri.",
            &format!("<html><head><style>.below {{ {style} }}</style></head><body><p>Ciao Mario</p><div class=below>Thank you for subscribing to our newsletter</div></body></html>"),
        )
    };
    fires(&html("margin-top: 470500px;"), "text.hidden_offscreen");
    fires(&html("height: 10000vh;"), "text.hidden_offscreen");
    silent(
        &html("margin-top: 40px; height: 100vh;"),
        "text.hidden_offscreen",
    );
    silent(&html("width: 12000px"), "text.hidden_offscreen");
}

#[test]
fn sales_name_from_an_unrelated_domain() {
    fires(
        &with_from("Quicken Loans <info@zhishang-mingzhan.example.com>"),
        "header.sales_name_elsewhere",
    );
    fires(
        &with_from("Bath Offer Team <nUXBdrM@love.smartwatchly.example>"),
        "header.sales_name_elsewhere",
    );
    // The business's own domain, or a domain named in the display name.
    silent(
        &with_from("Quicken Loans <offers@quickenloans.example.com>"),
        "header.sales_name_elsewhere",
    );
    silent(
        &with_from("Lockergnome Deals <news@lockergnome.example.com>"),
        "header.sales_name_elsewhere",
    );
    // People and names without a sales word.
    silent(PLAIN, "header.sales_name_elsewhere");
    silent(
        &with_from("Media Unspun <guterman@imakenews.example.net>"),
        "header.sales_name_elsewhere",
    );
}

#[test]
fn lure_typed_into_a_registration_form() {
    let signup = |name: &str| {
        with_body(&format!(
            "Username: {name}\nTo set your password, visit the following address:"
        ))
    };
    fires(
        &signup("www.khuiqd.blogspot.com - BINANCE 150 072 EURO"),
        "text.account_name_abuse",
    );
    fires(
        &signup("1.3497700 BTC withdraw now"),
        "text.account_name_abuse",
    );
    fires(
        &with_body("Nome utente: www.dryyue.blogspot.jp - 138 788 USD BINANCE"),
        "text.account_name_abuse",
    );
    silent(&signup("mario.rossi"), "text.account_name_abuse");
    silent(
        &signup("anna@partner.example.org"),
        "text.account_name_abuse",
    );
}

#[test]
fn dating_lures_in_more_languages() {
    fires(
        &with_body(
            "Ben jij op zoek naar een spannende afspraak? Ontmoet single vrouwen bij jou in de buurt.",
        ),
        "text.scam_offer",
    );
    fires(
        &with_body("Incontri discreti: donne single vicino a te ti aspettano."),
        "text.scam_offer",
    );
    // One word is not a lure.
    silent(
        &with_body("Ci vediamo agli incontri di formazione."),
        "text.scam_offer",
    );
}

#[test]
fn free_mailbox_replies_collected_at_another_provider() {
    let raw = with_from("Greg Gani <mohamed.chambas73@gmail.com>").replace(
        "Message-ID:",
        "Reply-To: mr.greggani@outlook.com\nMessage-ID:",
    );
    let report = analyze(&raw);
    let finding = report
        .findings
        .iter()
        .find(|f| f.code == "header.reply_to_mismatch")
        .expect("reply-to mismatch");
    assert_eq!(finding.weight, 4);
    // Another organisation's domain: weaker (bulk senders route replies to their ESP).
    let raw = PLAIN.replace(
        "Message-ID:",
        "Reply-To: replies@esp.example.net\nMessage-ID:",
    );
    let report = analyze(&raw);
    let finding = report
        .findings
        .iter()
        .find(|f| f.code == "header.reply_to_mismatch")
        .expect("reply-to mismatch");
    assert_eq!(finding.weight, 2);
}

#[test]
fn invisible_selectors_inside_a_display_name() {
    // U+E0139 (a supplementary variation selector) between the letters of "IRS".
    fires(
        &with_from("I\u{e0139}\u{e0139}RS Ta\u{e0139}x Office <fs@cor1.hosting.example>"),
        "header.display_name_obfuscated",
    );
    silent(
        &with_from("IRS Tax Office <fs@cor1.hosting.example>"),
        "header.display_name_obfuscated",
    );
}

#[test]
fn random_tag_on_a_sender_address() {
    fires(
        &with_from("2U <makarif24599+NMwGO8qDiD8HKv6RyvtRa6ND11@gmail.com>"),
        "header.random_mailbox",
    );
    silent(
        &with_from("Anna <anna.rossi+newsletters@gmail.com>"),
        "header.random_mailbox",
    );
}

#[test]
fn lure_in_the_greeting_of_a_real_service() {
    fires(
        &with_body("Hi ✅ +$4,811 ➡️ ok.me/rCQE1,\nOne last step to confirm your account!"),
        "text.account_name_abuse",
    );
    silent(
        &with_body("Hi Mario,\nOne last step to confirm your account!"),
        "text.account_name_abuse",
    );
    silent(
        &with_body("Dear colleagues, the budget is $4,811 this year."),
        "text.account_name_abuse",
    );
}

#[test]
fn one_brand_is_not_a_misspelling_of_another() {
    // Correios (Brazil's post) and Correos (Spain's) are both protected names.
    silent(
        &with_from("Correios <rastreamento@correios.com.br>"),
        "header.lookalike_domain",
    );
    fires(
        &with_from("Correos <envios@correoos.example>"),
        "header.lookalike_domain",
    );
}

#[test]
fn brand_names_in_capitals_with_an_i() {
    // The confusable skeleton reads a capital I as l ("PayPaI"); "IRS" must still be the IRS.
    fires(
        &with_from("IRS e-File System <postmaster@invalpool.example.nl>"),
        "header.brand_display_name",
    );
    fires(
        &with_from("PayPaI Service <x@example.net>"),
        "header.brand_display_name",
    );
    silent(
        &with_from("Iris Rossi <iris@example.net>"),
        "header.brand_display_name",
    );
}

#[test]
fn national_webmail_counts_as_free_mail() {
    fires(
        &with_from("Customer Support <assistenza.clienti@terra.com.br>"),
        "header.freemail_organisation",
    );
}

#[test]
fn whole_sentences_in_look_alike_letters_weigh_more() {
    let weight = |body: &str| {
        analyze(&with_body(body))
            .findings
            .iter()
            .find(|f| f.code == "text.lookalike_words")
            .map(|f| f.weight)
    };
    // Cyrillic о, а, е, г, п, і inside Latin words.
    assert_eq!(weight("Wallеt Suspеnded today"), Some(3));
    assert_eq!(
        weight("Gоod аfterпоon. You havе а new іncоmiпg tгаnsасtіon to rеview"),
        Some(4)
    );
    assert_eq!(weight("Good afternoon, the minutes are attached."), None);
}

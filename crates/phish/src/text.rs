//! Wording: urgency, credential, payment, threat and reward cues in English and Italian.
//! Each cue family counts once; strong credential-phishing phrases count more.

use std::sync::OnceLock;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use regex::Regex;

use crate::Context;
use crate::report::Category;

/// Only the first part of a long text is scanned.
const MAX_TEXT_BYTES: usize = 256 << 10;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Cue {
    Urgency,
    Credentials,
    Payment,
    Threat,
    Reward,
    /// Phrases that on their own describe credential phishing.
    Strong,
    /// Advance-fee fraud ("419"): large sums, a stranger's proposal.
    AdvanceFee,
    /// Gambling, dating and crypto-giveaway lures.
    Scam,
    /// A parcel that cannot be delivered until you act.
    Delivery,
}

const CUES: &[(Cue, &str)] = &[
    (Cue::Urgency, "urgent"),
    (Cue::Urgency, "immediately"),
    (Cue::Urgency, "within 24 hours"),
    (Cue::Urgency, "within 48 hours"),
    (Cue::Urgency, "as soon as possible"),
    (Cue::Urgency, "act now"),
    (Cue::Urgency, "final notice"),
    (Cue::Urgency, "last warning"),
    (Cue::Urgency, "expires today"),
    (Cue::Urgency, "will expire"),
    (Cue::Urgency, "has expired"),
    (Cue::Urgency, "limited time"),
    (Cue::Urgency, "urgente"),
    (Cue::Urgency, "immediatamente"),
    (Cue::Urgency, "entro 24 ore"),
    (Cue::Urgency, "entro 48 ore"),
    (Cue::Urgency, "al più presto"),
    (Cue::Urgency, "ultimo avviso"),
    (Cue::Urgency, "scade oggi"),
    (Cue::Urgency, "scaduto"),
    (Cue::Urgency, "scadrà"),
    (Cue::Credentials, "password"),
    (Cue::Credentials, "passcode"),
    (Cue::Credentials, "log in"),
    (Cue::Credentials, "login"),
    (Cue::Credentials, "sign in"),
    (Cue::Credentials, "username"),
    (Cue::Credentials, "credentials"),
    (Cue::Credentials, "mailbox"),
    (Cue::Credentials, "email account"),
    (Cue::Credentials, "webmail"),
    (Cue::Credentials, "credenziali"),
    (Cue::Credentials, "accedi"),
    (Cue::Credentials, "casella di posta"),
    (Cue::Credentials, "nome utente"),
    (Cue::Credentials, "codice otp"),
    (Cue::Payment, "invoice"),
    (Cue::Payment, "payment"),
    (Cue::Payment, "wire transfer"),
    (Cue::Payment, "bank account"),
    (Cue::Payment, "bank details"),
    (Cue::Payment, "credit card"),
    (Cue::Payment, "refund"),
    (Cue::Payment, "bitcoin"),
    (Cue::Payment, "btc wallet"),
    (Cue::Payment, "gift card"),
    (Cue::Payment, "billing"),
    (Cue::Payment, "fattura"),
    (Cue::Payment, "pagamento"),
    (Cue::Payment, "bonifico"),
    (Cue::Payment, "carta di credito"),
    (Cue::Payment, "rimborso"),
    (Cue::Payment, "iban"),
    (Cue::Payment, "coordinate bancarie"),
    (Cue::Threat, "suspended"),
    (Cue::Threat, "suspension"),
    (Cue::Threat, "locked"),
    (Cue::Threat, "deactivated"),
    (Cue::Threat, "unusual activity"),
    (Cue::Threat, "unusual sign-in"),
    (Cue::Threat, "suspicious activity"),
    (Cue::Threat, "unauthorized"),
    (Cue::Threat, "will be deleted"),
    (Cue::Threat, "will be closed"),
    (Cue::Threat, "storage is full"),
    (Cue::Threat, "quota"),
    (Cue::Threat, "sospeso"),
    (Cue::Threat, "sospesa"),
    (Cue::Threat, "bloccato"),
    (Cue::Threat, "bloccata"),
    (Cue::Threat, "disattivato"),
    (Cue::Threat, "attività sospetta"),
    (Cue::Threat, "accesso non autorizzato"),
    (Cue::Threat, "sarà eliminato"),
    (Cue::Threat, "sarà chiuso"),
    (Cue::Reward, "congratulations"),
    (Cue::Reward, "you have won"),
    (Cue::Reward, "you've won"),
    (Cue::Reward, "winner"),
    (Cue::Reward, "claim your"),
    (Cue::Reward, "prize"),
    (Cue::Reward, "reward"),
    (Cue::Reward, "free gift"),
    (Cue::Reward, "inheritance"),
    (Cue::Reward, "beneficiary"),
    (Cue::Reward, "million dollars"),
    (Cue::Reward, "compensation"),
    (Cue::Reward, "congratulazioni"),
    (Cue::Reward, "hai vinto"),
    (Cue::Reward, "premio"),
    (Cue::Reward, "omaggio"),
    (Cue::Reward, "eredità"),
    (Cue::Strong, "verify your account"),
    (Cue::Strong, "verify your identity"),
    (Cue::Strong, "confirm your account"),
    (Cue::Strong, "confirm your identity"),
    (Cue::Strong, "confirm your password"),
    (Cue::Strong, "update your account"),
    (Cue::Strong, "update your payment"),
    (Cue::Strong, "update your billing"),
    (Cue::Strong, "validate your account"),
    (Cue::Strong, "your account has been suspended"),
    (Cue::Strong, "your account will be suspended"),
    (Cue::Strong, "your password expires"),
    (Cue::Strong, "your password will expire"),
    (Cue::Strong, "re-activate your account"),
    (Cue::Strong, "reactivate your account"),
    (Cue::Strong, "restore your account"),
    (Cue::Strong, "unlock your account"),
    (Cue::Strong, "recorded you"),
    (Cue::Strong, "verifica il tuo account"),
    (Cue::Strong, "verifica la tua identità"),
    (Cue::Strong, "conferma il tuo account"),
    (Cue::Strong, "conferma la tua identità"),
    (Cue::Strong, "aggiorna i tuoi dati"),
    (Cue::Strong, "il tuo account è stato sospeso"),
    (Cue::Strong, "il tuo account sarà sospeso"),
    (Cue::Strong, "la tua password scadrà"),
    (Cue::Strong, "riattiva il tuo account"),
    (Cue::Strong, "sblocca il tuo account"),
    // Portuguese, Spanish, French, German and Dutch: phishing reaching Italian offices is
    // often not in Italian or English.
    (Cue::Urgency, "urgente"),
    (Cue::Urgency, "imediatamente"),
    (Cue::Urgency, "inmediatamente"),
    (Cue::Urgency, "immédiatement"),
    (Cue::Urgency, "sofort"),
    (Cue::Urgency, "dringend"),
    (Cue::Urgency, "onmiddellijk"),
    (Cue::Urgency, "últimos dias"),
    (Cue::Urgency, "último aviso"),
    (Cue::Urgency, "dernier avis"),
    (Cue::Urgency, "letzte mahnung"),
    (Cue::Urgency, "expira hoje"),
    (Cue::Urgency, "expire"),
    (Cue::Urgency, "expiring"),
    (Cue::Urgency, "expira"),
    (Cue::Urgency, "expirar"),
    (Cue::Urgency, "prestes a expirar"),
    (Cue::Urgency, "ablaufen"),
    (Cue::Urgency, "läuft ab"),
    (Cue::Urgency, "expira hoy"),
    (Cue::Urgency, "vence hoje"),
    (Cue::Credentials, "senha"),
    (Cue::Credentials, "contraseña"),
    (Cue::Credentials, "mot de passe"),
    (Cue::Credentials, "passwort"),
    (Cue::Credentials, "kennwort"),
    (Cue::Credentials, "wachtwoord"),
    (Cue::Credentials, "identifiant"),
    (Cue::Credentials, "anmelden"),
    (Cue::Credentials, "wallet"),
    (Cue::Credentials, "seed phrase"),
    (Cue::Credentials, "token"),
    (Cue::Payment, "fatura"),
    (Cue::Payment, "boleto"),
    (Cue::Payment, "pagamento pendente"),
    (Cue::Payment, "débito"),
    (Cue::Payment, "factura"),
    (Cue::Payment, "pago"),
    (Cue::Payment, "facture"),
    (Cue::Payment, "paiement"),
    (Cue::Payment, "remboursement"),
    (Cue::Payment, "rechnung"),
    (Cue::Payment, "zahlung"),
    (Cue::Payment, "rückerstattung"),
    (Cue::Payment, "betaling"),
    (Cue::Payment, "factuur"),
    (Cue::Payment, "pix"),
    (Cue::Payment, "saldo"),
    (Cue::Payment, "crédito"),
    (Cue::Payment, "irpf"),
    (Cue::Payment, "imposto"),
    (Cue::Payment, "restituição"),
    (Cue::Threat, "bloqueado"),
    (Cue::Threat, "bloqueada"),
    (Cue::Threat, "suspenso"),
    (Cue::Threat, "suspensa"),
    (Cue::Threat, "suspendido"),
    (Cue::Threat, "cancelado"),
    (Cue::Threat, "bloqué"),
    (Cue::Threat, "suspendu"),
    (Cue::Threat, "gesperrt"),
    (Cue::Threat, "geblokkeerd"),
    (Cue::Threat, "pendência"),
    (Cue::Threat, "pendente"),
    (Cue::Threat, "irregularidade"),
    (Cue::Reward, "parabéns"),
    (Cue::Reward, "felicidades"),
    (Cue::Reward, "félicitations"),
    (Cue::Reward, "herzlichen glückwunsch"),
    (Cue::Reward, "gefeliciteerd"),
    (Cue::Reward, "gewinnen"),
    (Cue::Reward, "gewonnen"),
    (Cue::Reward, "gratis"),
    (Cue::Reward, "grátis"),
    (Cue::Reward, "gratuit"),
    (Cue::Reward, "prêmio"),
    (Cue::Reward, "premio"),
    (Cue::Reward, "belohnung"),
    (Cue::Reward, "gutschein"),
    (Cue::Reward, "cadeau"),
    (Cue::Reward, "récompense"),
    (Cue::Reward, "resgate"),
    (Cue::Reward, "liberado"),
    (Cue::Reward, "pontos"),
    (Cue::AdvanceFee, "business proposal"),
    (Cue::AdvanceFee, "million us dollars"),
    (Cue::AdvanceFee, "million dollars"),
    (Cue::AdvanceFee, "million euros"),
    (Cue::AdvanceFee, "transfer into your account"),
    (Cue::AdvanceFee, "next of kin"),
    (Cue::AdvanceFee, "next-of-kin"),
    (Cue::AdvanceFee, "intestate"),
    (Cue::AdvanceFee, "trustworthy"),
    (Cue::AdvanceFee, "solicit"),
    (Cue::AdvanceFee, "your assistance"),
    (Cue::AdvanceFee, "inheritance"),
    (Cue::AdvanceFee, "beneficiary"),
    (Cue::AdvanceFee, "huge sum"),
    (Cue::AdvanceFee, "compensation fund"),
    (Cue::AdvanceFee, "diplomat"),
    (Cue::AdvanceFee, "donation"),
    (Cue::AdvanceFee, "philanthropist"),
    (Cue::AdvanceFee, "dear friend"),
    (Cue::AdvanceFee, "dear beneficiary"),
    (Cue::AdvanceFee, "barrister"),
    (Cue::AdvanceFee, "consignment box"),
    (Cue::AdvanceFee, "lottery"),
    (Cue::AdvanceFee, "atm card"),
    (Cue::AdvanceFee, "fund transfer"),
    (Cue::AdvanceFee, "unclaimed"),
    (Cue::AdvanceFee, "deceased"),
    (Cue::AdvanceFee, "my late husband"),
    (Cue::AdvanceFee, "strictly confidential"),
    (Cue::AdvanceFee, "your urgent response"),
    (Cue::AdvanceFee, "milioni di dollari"),
    (Cue::AdvanceFee, "proposta commerciale"),
    (Cue::Scam, "casino"),
    (Cue::Scam, "free spins"),
    (Cue::Scam, "freispiele"),
    (Cue::Scam, "rodadas grátis"),
    (Cue::Scam, "giri gratis"),
    (Cue::Scam, "tiradas gratis"),
    (Cue::Scam, "tours gratuits"),
    (Cue::Scam, "jackpot"),
    (Cue::Scam, "bonus"),
    (Cue::Scam, "bônus"),
    (Cue::Scam, "airdrop"),
    (Cue::Scam, "giveaway"),
    (Cue::Scam, "crypto"),
    (Cue::Scam, "ethereum"),
    (Cue::Scam, "usdt"),
    (Cue::Scam, "memecoin"),
    (Cue::Scam, "dating"),
    (Cue::Scam, "singles"),
    (Cue::Scam, "hot singles"),
    (Cue::Scam, "your perfect match"),
    (Cue::Scam, "perfect matches"),
    (Cue::Scam, "lonely"),
    (Cue::Scam, "women are waiting"),
    (Cue::Scam, "sexy"),
    (Cue::Scam, "apostas"),
    (Cue::Scam, "aposta"),
    (Cue::Scam, "scommesse"),
    (Cue::Scam, "slot"),
    (Cue::Scam, "betting"),
    (Cue::Scam, "wager"),
    (Cue::Scam, "payout"),
    (Cue::Scam, "cashback"),
    (Cue::Scam, "claim now"),
    (Cue::Scam, "claim your reward"),
    (Cue::Scam, "claim your prize"),
    (Cue::Scam, "limited offer"),
    (Cue::Scam, "exclusive offer"),
    (Cue::Scam, "act fast"),
    (Cue::Strong, "verify your wallet"),
    (Cue::Strong, "connect your wallet"),
    (Cue::Strong, "atualize seus dados"),
    (Cue::Strong, "atualizar seus dados"),
    (Cue::Strong, "confirme seus dados"),
    (Cue::Strong, "verifique sua conta"),
    (Cue::Strong, "sua conta foi bloqueada"),
    (Cue::Strong, "sua conta será bloqueada"),
    (Cue::Strong, "verifique su cuenta"),
    (Cue::Strong, "su cuenta ha sido suspendida"),
    (Cue::Strong, "vérifiez votre compte"),
    (Cue::Strong, "votre compte a été suspendu"),
    (Cue::Strong, "bestätigen sie ihr konto"),
    (Cue::Strong, "ihr konto wurde gesperrt"),
    (Cue::Strong, "verifieer uw account"),
    // More languages and lures (credential, wallet, mailbox, prize, parcel, tax, callback).
    (Cue::Strong, "verify your info"),
    (Cue::Strong, "verify your information"),
    (Cue::Strong, "confirm your details"),
    (Cue::Strong, "confirm your information"),
    (Cue::Strong, "update your information"),
    (Cue::Strong, "your account will be restricted"),
    (Cue::Strong, "your account has been restricted"),
    (Cue::Strong, "your account has been limited"),
    (Cue::Strong, "your password has expired"),
    (Cue::Strong, "password is expiring"),
    (Cue::Strong, "restore your mailbox"),
    (Cue::Strong, "restore mailbox"),
    (Cue::Strong, "avoid closure"),
    (Cue::Strong, "messages blocked"),
    (Cue::Strong, "pending messages"),
    (Cue::Strong, "incoming messages"),
    (Cue::Strong, "recovery phrase"),
    (Cue::Strong, "recovery seed"),
    (Cue::Strong, "secret phrase"),
    (Cue::Strong, "restore your wallet"),
    (Cue::Strong, "synchronize your wallet"),
    (Cue::Strong, "validate your wallet"),
    (Cue::Strong, "your wallet has been suspended"),
    (Cue::Strong, "your wallet will be suspended"),
    (Cue::Strong, "switched on your camera"),
    (Cue::Strong, "compromising video"),
    (Cue::Strong, "has been successfully renewed"),
    (Cue::Strong, "if you did not authorize"),
    (Cue::Strong, "schedule a redelivery"),
    (Cue::Strong, "submit a redelivery"),
    (Cue::Strong, "bestätigen sie ihre angaben"),
    (Cue::Strong, "bestätigen sie ihre daten"),
    (Cue::Strong, "aktualisieren sie ihre daten"),
    (Cue::Strong, "ihr konto wurde eingeschränkt"),
    (Cue::Strong, "confirmez vos informations"),
    (Cue::Strong, "mettez à jour votre paiement"),
    (Cue::Strong, "mettre à jour vos informations"),
    (Cue::Strong, "votre compte sera suspendu"),
    (Cue::Strong, "actualice su información"),
    (Cue::Strong, "actualice su informacion"),
    (Cue::Strong, "confirme sus datos"),
    (Cue::Strong, "su cuenta será suspendida"),
    (Cue::Strong, "confirme seus dados"),
    (Cue::Strong, "atualize seu cadastro"),
    (Cue::Strong, "regularize sua situação"),
    (Cue::Strong, "sua conta será suspensa"),
    (Cue::Strong, "bevestig uw gegevens"),
    (Cue::Strong, "uw account wordt geblokkeerd"),
    (Cue::Urgency, "action required"),
    (Cue::Urgency, "immediate action"),
    (Cue::Urgency, "last reminder"),
    (Cue::Urgency, "final reminder"),
    (Cue::Urgency, "final call"),
    (Cue::Urgency, "ending soon"),
    (Cue::Urgency, "letzte erinnerung"),
    (Cue::Urgency, "letzter aufruf"),
    (Cue::Urgency, "handeln sie jetzt"),
    (Cue::Urgency, "jetzt handeln"),
    (Cue::Urgency, "mahnung"),
    (Cue::Urgency, "dernier rappel"),
    (Cue::Urgency, "action requise"),
    (Cue::Urgency, "aviso final"),
    (Cue::Urgency, "último recordatorio"),
    (Cue::Urgency, "acción requerida"),
    (Cue::Urgency, "em até 24 horas"),
    (Cue::Urgency, "ação necessária"),
    (Cue::Urgency, "laatste herinnering"),
    (Cue::Urgency, "actie vereist"),
    (Cue::Urgency, "abgelaufen"),
    (Cue::Urgency, "läuft heute ab"),
    (Cue::Urgency, "handeln erforderlich"),
    (Cue::Urgency, "a expiré"),
    (Cue::Urgency, "expiré"),
    (Cue::Urgency, "expirado"),
    (Cue::Urgency, "expirou"),
    (Cue::Urgency, "vence hoy"),
    (Cue::Urgency, "verlopen"),
    (Cue::Urgency, "verloopt"),
    (Cue::Threat, "termination"),
    (Cue::Threat, "terminated"),
    (Cue::Threat, "avoid suspension"),
    (Cue::Credentials, "zugangsdaten"),
    (Cue::Credentials, "anmeldedaten"),
    (Cue::Credentials, "identifiants"),
    (Cue::Credentials, "connexion"),
    (Cue::Credentials, "iniciar sesión"),
    (Cue::Credentials, "dados cadastrais"),
    (Cue::Credentials, "inloggegevens"),
    (Cue::Credentials, "verification code"),
    (Cue::Payment, "kreditkarte"),
    (Cue::Payment, "bankverbindung"),
    (Cue::Payment, "carte bancaire"),
    (Cue::Payment, "coordonnées bancaires"),
    (Cue::Payment, "tarjeta"),
    (Cue::Payment, "cartão"),
    (Cue::Payment, "bankrekening"),
    (Cue::Payment, "steuererstattung"),
    (Cue::Payment, "tax refund"),
    (Cue::Payment, "impôts"),
    (Cue::Threat, "eingeschränkt"),
    (Cue::Threat, "deaktiviert"),
    (Cue::Threat, "gelöscht"),
    (Cue::Threat, "restreint"),
    (Cue::Threat, "supprimé"),
    (Cue::Threat, "désactivé"),
    (Cue::Threat, "restringida"),
    (Cue::Threat, "desactivada"),
    (Cue::Threat, "intimação"),
    (Cue::Threat, "mandado"),
    (Cue::Threat, "audiência"),
    (Cue::Threat, "opgeschort"),
    (Cue::Threat, "restricted"),
    (Cue::Threat, "disabled"),
    (Cue::Reward, "gewinnspiel"),
    (Cue::Reward, "gewinner"),
    (Cue::Reward, "gewinn"),
    (Cue::Reward, "sie wurden ausgewählt"),
    (Cue::Reward, "herzliche glückwünsche"),
    (Cue::Reward, "auszahlung"),
    (Cue::Reward, "vous avez gagné"),
    (Cue::Reward, "gagnant"),
    (Cue::Reward, "has ganado"),
    (Cue::Reward, "ganador"),
    (Cue::Reward, "sorteo"),
    (Cue::Reward, "você ganhou"),
    (Cue::Reward, "sorteio"),
    (Cue::Reward, "winnaar"),
    (Cue::Reward, "you have been selected"),
    (Cue::Reward, "mystery box"),
    (Cue::Delivery, "your package"),
    (Cue::Delivery, "your parcel"),
    (Cue::Delivery, "redelivery"),
    (Cue::Delivery, "delivery failed"),
    (Cue::Delivery, "failed delivery"),
    (Cue::Delivery, "delivery attempt"),
    (Cue::Delivery, "shipping fee"),
    (Cue::Delivery, "customs fee"),
    (Cue::Delivery, "ihr paket"),
    (Cue::Delivery, "zustellung"),
    (Cue::Delivery, "votre colis"),
    (Cue::Delivery, "su paquete"),
    (Cue::Delivery, "paquete pendiente"),
    (Cue::Delivery, "sua encomenda"),
    (Cue::Delivery, "entrega pendente"),
    (Cue::Delivery, "falha na entrega"),
    (Cue::Delivery, "taxa alfandegária"),
    (Cue::Delivery, "uw pakket"),
    (Cue::AdvanceFee, "donation"),
    (Cue::AdvanceFee, "doação"),
    (Cue::AdvanceFee, "donación"),
    (Cue::AdvanceFee, "herança"),
    (Cue::AdvanceFee, "herencia"),
    (Cue::AdvanceFee, "milhões de dólares"),
    (Cue::AdvanceFee, "millones de dólares"),
    (Cue::AdvanceFee, "security company"),
    (Cue::AdvanceFee, "trusted person"),
    (Cue::AdvanceFee, "transferring his funds"),
    (Cue::AdvanceFee, "mega millions"),
    (Cue::AdvanceFee, "powerball"),
    (Cue::AdvanceFee, "compensation awards"),
    (Cue::AdvanceFee, "meu caro amigo"),
    (Cue::AdvanceFee, "caro amigo"),
    (Cue::AdvanceFee, "querido amigo"),
    (Cue::AdvanceFee, "falecido marido"),
    (Cue::AdvanceFee, "último desejo"),
    (Cue::AdvanceFee, "caridade"),
    (Cue::AdvanceFee, "fallecido esposo"),
    (Cue::AdvanceFee, "caridad"),
    (Cue::AdvanceFee, "feu mari"),
    (Cue::AdvanceFee, "héritage"),
    (Cue::AdvanceFee, "œuvres caritatives"),
    (Cue::AdvanceFee, "erbschaft"),
    (Cue::AdvanceFee, "verstorbenen ehemann"),
    (Cue::AdvanceFee, "wohltätigkeit"),
    (Cue::AdvanceFee, "erfenis"),
    (Cue::AdvanceFee, "overleden echtgenoot"),
    (Cue::Scam, "nft"),
    (Cue::Scam, "nfts"),
    (Cue::Scam, "mint"),
    (Cue::Scam, "minting"),
    (Cue::Scam, "tokens"),
    (Cue::Scam, "staking"),
    (Cue::Scam, "xrp"),
    (Cue::Scam, "web3"),
    (Cue::Scam, "defi"),
    (Cue::Scam, "liquidity"),
    (Cue::Scam, "usdc"),
    (Cue::Scam, "spins"),
    (Cue::Scam, "gratis spins"),
    (Cue::Scam, "willkommensbonus"),
    (Cue::Scam, "no deposit"),
    (Cue::Scam, "keine einzahlung"),
    (Cue::Scam, "geen storting"),
    (Cue::Scam, "sin depósito"),
    (Cue::Scam, "sem depósito"),
    (Cue::Scam, "sexdate"),
    (Cue::Scam, "flirten"),
    (Cue::Scam, "traumfrau"),
    (Cue::Scam, "nackte"),
    (Cue::Scam, "célibataires"),
    (Cue::Scam, "namoro"),
    // Dating and sex-contact lures in EN, NL, DE, IT, ES, PT, FR (two are needed).
    (Cue::Scam, "hookup"),
    (Cue::Scam, "horny"),
    (Cue::Scam, "naughty"),
    (Cue::Scam, "milf"),
    (Cue::Scam, "adult dating"),
    (Cue::Scam, "sex dating"),
    (Cue::Scam, "flirt"),
    (Cue::Scam, "daten"),
    (Cue::Scam, "spannende afspraak"),
    (Cue::Scam, "vrouwen zoeken"),
    (Cue::Scam, "single vrouwen"),
    (Cue::Scam, "ontmoet"),
    (Cue::Scam, "seitensprung"),
    (Cue::Scam, "singlebörse"),
    (Cue::Scam, "frauen suchen"),
    (Cue::Scam, "incontri"),
    (Cue::Scam, "donne single"),
    (Cue::Scam, "citas"),
    (Cue::Scam, "mujeres solteras"),
    (Cue::Scam, "encontros"),
    (Cue::Scam, "mulheres solteiras"),
    (Cue::Scam, "rencontres"),
    (Cue::Scam, "femmes célibataires"),
    (Cue::Scam, "coquine"),
];

/// The distinct phrases, their matcher, and the families of each phrase (a phrase may
/// belong to several, e.g. "inheritance": a reward and advance-fee fraud).
struct Phrases {
    matcher: AhoCorasick,
    phrases: Vec<&'static str>,
    families: Vec<Vec<Cue>>,
}

fn phrases() -> &'static Phrases {
    static PHRASES: OnceLock<Phrases> = OnceLock::new();
    PHRASES.get_or_init(|| {
        let mut phrases: Vec<&'static str> = Vec::new();
        let mut families: Vec<Vec<Cue>> = Vec::new();
        for (cue, phrase) in CUES {
            match phrases.iter().position(|p| p == phrase) {
                Some(index) => families[index].push(*cue),
                None => {
                    phrases.push(phrase);
                    families.push(vec![*cue]);
                }
            }
        }
        let matcher = AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::LeftmostLongest)
            .build(&phrases)
            .expect("static patterns");
        Phrases {
            matcher,
            phrases,
            families,
        }
    })
}

/// Whole-word cue phrases of `text` (already lowercase), once per family they belong to.
fn hits(text: &str) -> impl Iterator<Item = (Cue, &'static str)> + '_ {
    let table = phrases();
    table
        .matcher
        .find_iter(text)
        .filter(|hit| {
            // Whole words only ("login" must not match inside "bloginfo").
            let before = text[..hit.start()].chars().next_back();
            let after = text[hit.end()..].chars().next();
            !(before.is_some_and(char::is_alphanumeric) || after.is_some_and(char::is_alphanumeric))
        })
        .flat_map(move |hit| {
            let index = hit.pattern().as_usize();
            let phrase = table.phrases[index];
            table.families[index].iter().map(move |cue| (*cue, phrase))
        })
}

pub(crate) fn check(cx: &mut Context, text: &str) {
    let mut end = text.len().min(MAX_TEXT_BYTES);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    disguised_characters(cx, &text[..end]);
    account_name_abuse(cx, &text[..end]);
    // One space for any run of whitespace: "18.5\nmillion  US Dollars" reads as a phrase.
    let text = text[..end]
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase();
    if cx.text_brand.is_none() {
        cx.text_brand = brand_in_text(&text);
    }
    let mut all: Vec<(Cue, &str)> = hits(&text).collect();
    // The amount counts once, whether in words ("million euros") or in figures.
    let sum_in_words = all.iter().any(|(_, phrase)| SUM_PHRASES.contains(phrase));
    if !sum_in_words && large_sum().is_match(&text) {
        all.push((Cue::AdvanceFee, "a large sum of money"));
    }
    let mut found: Vec<(Cue, &str)> = Vec::new();
    for (cue, phrase) in &all {
        if !found.iter().any(|(c, _)| c == cue) {
            found.push((*cue, phrase));
        }
    }
    let families: Vec<&(Cue, &str)> = found
        .iter()
        .filter(|(c, _)| !matches!(c, Cue::Strong | Cue::AdvanceFee | Cue::Scam))
        .collect();
    let scam = phrases_of(&all, Cue::Scam);
    if scam.len() >= 2 {
        cx.out.add(
            "text.scam_offer",
            Category::Text,
            3,
            format!(
                "the text is a gambling, dating or crypto lure (\"{}\")",
                scam.join("\", \"")
            ),
            format!(
                "il testo è un'esca di gioco d'azzardo, incontri o criptovalute (\"{}\")",
                scam.join("\", \"")
            ),
        );
    }
    let advance_fee: Vec<&str> = phrases_of(&all, Cue::AdvanceFee);
    if advance_fee.len() >= 2 {
        cx.out.add(
            "text.advance_fee",
            Category::Text,
            4,
            format!(
                "the text reads like advance-fee fraud (\"{}\")",
                advance_fee.join("\", \"")
            ),
            format!(
                "il testo ha la forma di una truffa dell'anticipo (\"{}\")",
                advance_fee.join("\", \"")
            ),
        );
    }
    if let Some((_, phrase)) = found.iter().find(|(c, _)| *c == Cue::Strong) {
        cx.out.add(
            "text.credential_phrase",
            Category::Text,
            3,
            format!("the text uses a typical phishing request: \"{phrase}\""),
            format!("il testo usa una tipica richiesta di phishing: \"{phrase}\""),
        );
    }
    if found
        .iter()
        .any(|(c, _)| matches!(c, Cue::Credentials | Cue::Strong))
    {
        cx.asks_credentials = true;
    }
    if families.len() >= 2 {
        let names_en: Vec<&str> = families.iter().map(|(c, _)| name(*c).0).collect();
        let names_it: Vec<&str> = families.iter().map(|(c, _)| name(*c).1).collect();
        let weight = (families.len() as u32 - 1).min(3);
        cx.out.add(
            "text.pressure",
            Category::Text,
            weight,
            format!(
                "the text combines {} — a pressure pattern of phishing",
                names_en.join(", ")
            ),
            format!(
                "il testo combina {} — uno schema di pressione tipico del phishing",
                names_it.join(", ")
            ),
        );
    }
}

fn name(cue: Cue) -> (&'static str, &'static str) {
    match cue {
        Cue::Urgency => ("urgency", "urgenza"),
        Cue::Credentials => ("requests for credentials", "richieste di credenziali"),
        Cue::Payment => ("payment", "pagamenti"),
        Cue::Threat => ("account threats", "minacce all'account"),
        Cue::Reward => ("promised rewards", "premi promessi"),
        Cue::Strong => ("phishing requests", "richieste di phishing"),
        Cue::AdvanceFee => ("advance-fee fraud", "truffa dell'anticipo"),
        Cue::Scam => ("gambling or dating lures", "esche di gioco o incontri"),
        Cue::Delivery => ("a parcel held back", "un pacco trattenuto"),
    }
}

/// Advance-fee phrases that state an amount.
const SUM_PHRASES: &[&str] = &[
    "million us dollars",
    "million dollars",
    "million euros",
    "huge sum",
    "milioni di dollari",
    "milhões de dólares",
    "millones de dólares",
];

/// Millions in figures or words with a currency ("US$5,000,000.00", "€4,000,000",
/// "2,5 milhões de dólares"): the bait of advance-fee fraud, counted as one of its phrases.
fn large_sum() -> &'static Regex {
    static LARGE_SUM: OnceLock<Regex> = OnceLock::new();
    LARGE_SUM.get_or_init(|| {
        Regex::new(
            r"(?:(?:us\$|\$|€|£|usd|eur|gbp)\s?\d{1,3}(?:[,.]\d{3}){2,})|(?:\d{1,3}(?:[,.]\d{3}){2,}(?:[.,]\d\d)?\s?(?:usd|eur|euros?|dollars?|gbp|£|€|\$))|(?:\d+(?:[.,]\d+)?\s?(?:million|millones|milhões|millionen|milioni|mio)\s?(?:de\s|of\s)?(?:us\s)?(?:usd|eur|euros?|dollars?|dólares|dolares|\$|£|€))",
        )
        .expect("static regex")
    })
}

/// Distinct phrases of one cue family among `hits`.
fn phrases_of(hits: &[(Cue, &'static str)], family: Cue) -> Vec<&'static str> {
    let mut phrases: Vec<&'static str> = Vec::new();
    for (cue, phrase) in hits {
        if *cue == family && !phrases.contains(phrase) {
            phrases.push(phrase);
        }
    }
    phrases
}

/// The first well-known brand the (lower-case) text names, as a word or two words run
/// together ("pay pal"); names that are also common words are left out.
fn brand_in_text(text: &str) -> Option<&'static str> {
    let lists = crate::domains::lists();
    let brand = |candidate: &str| {
        lists
            .brands
            .get_key_value(candidate)
            .filter(|(name, _)| !lists.ambiguous_brands.contains(*name))
            .map(|(name, _)| name.as_str())
    };
    let words: Vec<&str> = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .take(5_000)
        .collect();
    let mut pair = String::new();
    words.iter().enumerate().find_map(|(i, word)| {
        brand(word).or_else(|| {
            let next = words.get(i + 1)?;
            if word.len() + next.len() > 24 {
                return None;
            }
            pair.clear();
            pair.push_str(word);
            pair.push_str(next);
            brand(&pair)
        })
    })
}

/// A sign-up or password mail whose account name is a web address or a sum of money
/// ("Username: www.x.blogspot.com - BINANCE 150 072 EURO"): the lure was typed into a real
/// site's registration form so that the site itself sends it, signed and trusted.
fn account_name_abuse(cx: &mut Context, text: &str) {
    static ACCOUNT: OnceLock<(Regex, Regex)> = OnceLock::new();
    let (field, lure) = ACCOUNT.get_or_init(|| {
        (
            // The account name field, or the greeting that repeats it ("Hi {name},").
            Regex::new(r"(?im)^[ \t]*(?:(?:username|user name|login name|nome utente|nome de usu[aá]rio|nombre de usuario|benutzername|nom d.utilisateur|gebruikersnaam)[ \t]*:[ \t]*([^\r\n]{1,160})|(?:hi|hello|hey|dear|hola|ol[aá]|ciao|salve|bonjour|hallo)[ \t]+([^\r\n,]{1,100}),)")
                .expect("static regex"),
            Regex::new(r"(?i)(?:https?://|www\.)|(?-u:\b)[a-z0-9-]+\.[a-z]{2,}/\S|\d[\d .,]*\s?(?:euros?|eur|usd|btc|usdt|€|\$)(?-u:\b)|[$€£]\s?\d")
                .expect("static regex"),
        )
    });
    if let Some(value) = field
        .captures_iter(text)
        .filter_map(|c| c.get(1).or_else(|| c.get(2)))
        .map(|m| m.as_str().trim())
        .find(|value| lure.is_match(value))
    {
        cx.out.add(
            "text.account_name_abuse",
            Category::Text,
            4,
            format!("the account name in this sign-up message is an advertisement (\"{value}\"): someone typed a lure into a website's registration form so that the site sends it for them"),
            format!("il nome utente in questo messaggio di registrazione è una pubblicità (\"{value}\"): qualcuno ha scritto un'esca nel modulo di registrazione di un sito perché sia il sito a spedirla"),
        );
    }
}

/// Text pushed far outside the visible page (`margin-top: 470500px`, `height: 10000vh`):
/// words written for filters, not for the reader ("hidden text salting", often a real
/// newsletter's text to make the message look legitimate). Layouts use hundreds of
/// pixels, not tens of thousands.
pub(crate) fn offscreen(cx: &mut Context, html: &str) {
    static OFFSCREEN: OnceLock<Regex> = OnceLock::new();
    let pattern = OFFSCREEN.get_or_init(|| {
        Regex::new(
            r"(?i)(?:margin|top|left|right|bottom|height|padding|text-indent|line-height)[-a-z]*\s*:\s*-?\d{5,}(?:\.\d+)?\s*(?:px|vh|em|rem|pt)|(?-u:\b)\d{4,}(?:vh|vw)(?-u:\b)",
        )
        .expect("static regex")
    });
    let mut end = html.len().min(MAX_TEXT_BYTES);
    while !html.is_char_boundary(end) {
        end -= 1;
    }
    if let Some(found) = pattern.find(&html[..end]) {
        let css = found.as_str();
        cx.out.add(
            "text.hidden_offscreen",
            Category::Text,
            3,
            format!("the message hides text far outside the visible page ({css}): words meant for filters, not for you"),
            format!("il messaggio nasconde testo molto fuori dalla pagina visibile ({css}): parole pensate per i filtri, non per te"),
        );
    }
}

/// Characters that make words unreadable to filters while people still read them:
/// invisible separators, tag characters and strike-through marks inside words, and "mathematical" letters (𝐏𝐚𝐲𝐏𝐚𝐥) that look
/// like ordinary ones. The zero-width joiner is left out: emoji sequences need it.
fn disguised_characters(cx: &mut Context, text: &str) {
    let invisible = text
        .chars()
        .filter(|c| {
            matches!(c, '\u{200B}' | '\u{200C}' | '\u{2060}' | '\u{FEFF}')
                // Tag characters and the supplementary variation selectors: invisible,
                // and meaningless in ordinary text.
                || ('\u{E0000}'..='\u{E01EF}').contains(c)
                // Combining overlays (a̷) that strike through letters to break words.
                || ('\u{0334}'..='\u{0338}').contains(c)
        })
        .count();
    if invisible >= 3 {
        cx.out.add(
            "text.invisible_characters",
            Category::Text,
            3,
            format!("the text hides {invisible} invisible characters between letters, a trick to slip past filters"),
            format!("il testo nasconde {invisible} caratteri invisibili tra le lettere, un trucco per eludere i filtri"),
        );
    }
    // Words mixing alphabets (`Wallеt Suspеnded` with Cyrillic е) or in small capitals.
    let lookalike: Vec<&str> = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| crate::headers::is_disguised_word(w))
        .filter(|w| !w.chars().any(|c| ('\u{1D400}'..='\u{1D7FF}').contains(&c)))
        .take(20)
        .collect();
    if lookalike.len() >= 2 {
        let sample = lookalike[..lookalike.len().min(3)].join(", ");
        cx.out.add(
            "text.lookalike_words",
            Category::Text,
            // Whole sentences disguised this way are no accident of a foreign keyboard.
            if lookalike.len() >= 5 { 4 } else { 3 },
            format!("words of the text mix look-alike letters of other alphabets ({sample}), to read normally while dodging filters"),
            format!("parole del testo mescolano lettere somiglianti di altri alfabeti ({sample}), per leggersi normalmente eludendo i filtri"),
        );
    }
    let styled = text
        .chars()
        .filter(|c| ('\u{1D400}'..='\u{1D7FF}').contains(c))
        .count();
    if styled >= 3 {
        cx.out.add(
            "text.styled_letters",
            Category::Text,
            3,
            "the text spells words with look-alike \"mathematical\" letters instead of normal ones, to slip past filters".into(),
            "il testo scrive parole con lettere \"matematiche\" che imitano quelle normali, per eludere i filtri".into(),
        );
    }
}

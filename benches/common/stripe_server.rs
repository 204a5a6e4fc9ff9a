//! The local Stripe of `benches/stripe_sync.rs`: a generated account (ids, objects and their
//! JSON in the shapes of API version `2025-03-31.basil`, all derived from an index, so that
//! 20,000 customers cost no memory) and an axum server listing it page by page behind a strict
//! rate limiter (a sliding one-second window), counting what it accepted and refused.

/// The generated Stripe account: ids, objects and their JSON, all derived from an index.
pub mod account {
    use chrono::{DateTime, Months, Utc};
    use rust_decimal::Decimal;
    use serde_json::{json, Value};

    /// The "now" of the generated account (and of the fetch): 2025-06-18T00:00:00Z.
    pub const NOW: i64 = 1_750_204_800;
    /// When the first customer signed up: 2023-01-01T00:00:00Z.
    const FIRST_SIGNUP: i64 = 1_672_531_200;
    /// The last customer signs up this long before [`NOW`].
    const LAST_SIGNUP_BEFORE_NOW: i64 = 30 * 86_400;

    /// One price of the catalogue.
    pub struct PriceDef {
        pub id: &'static str,
        pub product: &'static str,
        pub nickname: &'static str,
        pub currency: &'static str,
        /// Minor units per period.
        pub unit_amount: i64,
        pub interval: &'static str,
        pub created: i64,
    }

    /// The six prices, oldest first.
    pub const PRICES: [PriceDef; 6] = [
        PriceDef {
            id: "price_1MbStarterMonthlyUSD",
            product: "prod_NStarter0000001",
            nickname: "Starter monthly",
            currency: "usd",
            unit_amount: 2_900,
            interval: "month",
            created: 1_672_000_000,
        },
        PriceDef {
            id: "price_1MbStarterYearlyUSD0",
            product: "prod_NStarter0000001",
            nickname: "Starter yearly",
            currency: "usd",
            unit_amount: 29_000,
            interval: "year",
            created: 1_672_000_100,
        },
        PriceDef {
            id: "price_1MbGrowthMonthlyUSD0",
            product: "prod_NGrowth00000001",
            nickname: "Growth monthly",
            currency: "usd",
            unit_amount: 9_900,
            interval: "month",
            created: 1_672_000_200,
        },
        PriceDef {
            id: "price_1MbGrowthYearlyUSD00",
            product: "prod_NGrowth00000001",
            nickname: "Growth yearly",
            currency: "usd",
            unit_amount: 99_000,
            interval: "year",
            created: 1_672_000_300,
        },
        PriceDef {
            id: "price_1MbGrowthMonthlyEUR0",
            product: "prod_NGrowth00000001",
            nickname: "Growth monthly (EUR)",
            currency: "eur",
            unit_amount: 8_900,
            interval: "month",
            created: 1_672_000_400,
        },
        PriceDef {
            id: "price_1MbScaleYearlyEUR000",
            product: "prod_NScale000000001",
            nickname: "Scale yearly (EUR)",
            currency: "eur",
            unit_amount: 299_000,
            interval: "year",
            created: 1_672_000_500,
        },
    ];

    /// The kinds of generated objects, each with its id prefix and its own id space.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum Kind {
        Customer,
        Subscription,
        SubscriptionItem,
        Invoice,
        InvoiceLine,
    }

    impl Kind {
        fn prefix(self) -> &'static str {
            match self {
                Kind::Customer => "cus_",
                Kind::Subscription => "sub_",
                Kind::SubscriptionItem => "si_",
                Kind::Invoice => "in_",
                Kind::InvoiceLine => "il_",
            }
        }

        fn salt(self) -> u64 {
            match self {
                Kind::Customer => 0x1000_0000,
                Kind::Subscription => 0x2000_0000,
                Kind::SubscriptionItem => 0x3000_0000,
                Kind::Invoice => 0x4000_0000,
                Kind::InvoiceLine => 0x5000_0000,
            }
        }
    }

    const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    /// What every id starts with after its prefix, like the `1Q` of `cus_1QbFvR2eZvKYlo2C`.
    const HEAD: &str = "1Q";
    /// Base-62 digits after the head: 62^11 > 2^64, so any u64 fits.
    const DIGITS: usize = 11;
    /// An odd multiplier: multiplying by it is a bijection of u64, so ids decode back.
    const MIX: u64 = 0x9E37_79B9_7F4A_7C15;
    const XOR: u64 = 0x2545_F491_4F6C_DD1D;

    /// The inverse of [`MIX`] modulo 2^64 (Newton's iteration: each step doubles the bits).
    fn mix_inverse() -> u64 {
        let mut inv = MIX;
        for _ in 0..6 {
            inv = inv.wrapping_mul(2u64.wrapping_sub(MIX.wrapping_mul(inv)));
        }
        inv
    }

    /// The id of object `i` of `kind`: unique, random-looking, decodable by [`index`].
    pub fn id(kind: Kind, i: u32) -> String {
        let mut x = ((u64::from(i) + kind.salt()) ^ XOR).wrapping_mul(MIX);
        let mut digits = [b'0'; DIGITS];
        for d in digits.iter_mut().rev() {
            *d = ALPHABET[(x % 62) as usize];
            x /= 62;
        }
        let mut s = String::with_capacity(kind.prefix().len() + HEAD.len() + DIGITS);
        s.push_str(kind.prefix());
        s.push_str(HEAD);
        s.extend(digits.iter().map(|&b| b as char));
        s
    }

    /// The index of the object of `kind` whose id is `id`, when it is one of the `n` generated.
    pub fn index(kind: Kind, id: &str, n: u32) -> Option<u32> {
        let digits = id.strip_prefix(kind.prefix())?.strip_prefix(HEAD)?;
        if digits.len() != DIGITS {
            return None;
        }
        let mut x: u128 = 0;
        for b in digits.bytes() {
            let d = ALPHABET.iter().position(|&a| a == b)?;
            x = x * 62 + d as u128;
        }
        let x = u64::try_from(x).ok()?;
        let i = (x.wrapping_mul(mix_inverse()) ^ XOR).checked_sub(kind.salt())?;
        let i = u32::try_from(i).ok().filter(|&i| i < n)?;
        (self::id(kind, i) == id).then_some(i)
    }

    /// A well-mixed number for `i` and `what` (splitmix64).
    fn hash(i: u32, what: u64) -> u64 {
        let mut z = (u64::from(i) << 8 ^ what).wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Everything the generator decides about customer `i` and its subscription and invoice.
    pub struct Customer {
        pub i: u32,
        pub created: i64,
        pub price: &'static PriceDef,
        pub quantity: u64,
        pub start: i64,
        pub period_start: i64,
        pub period_end: i64,
        /// The start of the period before the current one (the subscription's start when
        /// there was none).
        pub prev_period_start: i64,
        /// Periods billed before the current one.
        pub cycles: u32,
    }

    /// The generated account: `n` customers.
    pub struct Account {
        pub n: u32,
        spacing: i64,
    }

    impl Account {
        pub fn new(n: u32) -> Account {
            let span = NOW - LAST_SIGNUP_BEFORE_NOW - FIRST_SIGNUP;
            Account {
                n,
                spacing: (span / i64::from(n.max(1))).max(1),
            }
        }

        /// Customer `i` (`i < n`): signed up `i` spacings after the first, subscribed two
        /// minutes later, billed every period since.
        pub fn customer(&self, i: u32) -> Customer {
            let created = FIRST_SIGNUP + i64::from(i) * self.spacing;
            let price = &PRICES[(hash(i, 1) % PRICES.len() as u64) as usize];
            let quantity = 1 + hash(i, 2) % 12;
            let start = created + 120;
            let months = if price.interval == "year" { 12 } else { 1 };
            let at = |k: u32| -> i64 {
                DateTime::<Utc>::from_timestamp(start, 0)
                    .and_then(|t| t.checked_add_months(Months::new(k * months)))
                    .map_or(start, |t| t.timestamp())
            };
            let mut cycles = 0;
            while at(cycles + 1) <= NOW {
                cycles += 1;
            }
            Customer {
                i,
                created,
                price,
                quantity,
                start,
                period_start: at(cycles),
                period_end: at(cycles + 1),
                prev_period_start: at(cycles.saturating_sub(1)),
                cycles,
            }
        }

        /// The MRR of every customer by currency (upper-case code), in major units rounded to
        /// the cent: what the fetched data must add up to.
        pub fn mrr(&self) -> Vec<(&'static str, Decimal)> {
            // Minor units per year, summed exactly, then one division per currency.
            let (mut usd, mut eur) = (0i128, 0i128);
            for i in 0..self.n {
                let c = self.customer(i);
                let periods = if c.price.interval == "year" { 1 } else { 12 };
                let yearly = i128::from(c.price.unit_amount) * i128::from(c.quantity) * periods;
                match c.price.currency {
                    "usd" => usd += yearly,
                    _ => eur += yearly,
                }
            }
            let monthly = |minor_per_year: i128| {
                (Decimal::from_i128_with_scale(minor_per_year, 2) / Decimal::from(12)).round_dp(2)
            };
            vec![("USD", monthly(usd)), ("EUR", monthly(eur))]
        }

        /// When invoice `i` was created (its current period's start); invoices are listed in
        /// this order.
        pub fn invoice_created(&self, i: u32) -> i64 {
            self.customer(i).period_start
        }
    }

    fn recurring(p: &PriceDef) -> Value {
        json!({
            "interval": p.interval,
            "interval_count": 1,
            "meter": null,
            "trial_period_days": null,
            "usage_type": "licensed"
        })
    }

    /// A Price object.
    pub fn price(p: &PriceDef) -> Value {
        json!({
            "id": p.id,
            "object": "price",
            "active": true,
            "billing_scheme": "per_unit",
            "created": p.created,
            "currency": p.currency,
            "custom_unit_amount": null,
            "livemode": true,
            "lookup_key": null,
            "metadata": {},
            "nickname": p.nickname,
            "product": p.product,
            "recurring": recurring(p),
            "tax_behavior": "unspecified",
            "tiers_mode": null,
            "transform_quantity": null,
            "type": "recurring",
            "unit_amount": p.unit_amount,
            "unit_amount_decimal": p.unit_amount.to_string()
        })
    }

    /// The Plan object a subscription item still carries beside its price.
    fn plan(p: &PriceDef) -> Value {
        json!({
            "id": p.id,
            "object": "plan",
            "active": true,
            "amount": p.unit_amount,
            "amount_decimal": p.unit_amount.to_string(),
            "billing_scheme": "per_unit",
            "created": p.created,
            "currency": p.currency,
            "interval": p.interval,
            "interval_count": 1,
            "livemode": true,
            "metadata": {},
            "meter": null,
            "nickname": p.nickname,
            "product": p.product,
            "tiers_mode": null,
            "transform_usage": null,
            "trial_period_days": null,
            "usage_type": "licensed"
        })
    }

    /// A Customer object.
    pub fn customer(c: &Customer) -> Value {
        let n = c.i + 1;
        json!({
            "id": id(Kind::Customer, c.i),
            "object": "customer",
            "address": null,
            "balance": 0,
            "created": c.created,
            "currency": c.price.currency,
            "default_source": null,
            "delinquent": false,
            "description": null,
            "discount": null,
            "email": format!("billing@company{n}.example"),
            "invoice_prefix": format!("{:08X}", hash(c.i, 3) as u32),
            "invoice_settings": {
                "custom_fields": null,
                "default_payment_method": null,
                "footer": null,
                "rendering_options": null
            },
            "livemode": true,
            "metadata": {"crm_id": format!("crm-{n:06}")},
            "name": format!("Company {n}"),
            "next_invoice_sequence": c.cycles + 2,
            "phone": null,
            "preferred_locales": [],
            "shipping": null,
            "tax_exempt": "none",
            "test_clock": null
        })
    }

    /// A Subscription object with its one item (its price and plan embedded).
    pub fn subscription(c: &Customer) -> Value {
        let sub = id(Kind::Subscription, c.i);
        let item = json!({
            "id": id(Kind::SubscriptionItem, c.i),
            "object": "subscription_item",
            "billing_thresholds": null,
            "created": c.start,
            "current_period_end": c.period_end,
            "current_period_start": c.period_start,
            "discounts": [],
            "metadata": {},
            "plan": plan(c.price),
            "price": price(c.price),
            "quantity": c.quantity,
            "subscription": sub,
            "tax_rates": []
        });
        json!({
            "id": sub,
            "object": "subscription",
            "application": null,
            "application_fee_percent": null,
            "automatic_tax": {"disabled_reason": null, "enabled": false, "liability": null},
            "billing_cycle_anchor": c.start,
            "billing_cycle_anchor_config": null,
            "billing_thresholds": null,
            "cancel_at": null,
            "cancel_at_period_end": false,
            "canceled_at": null,
            "cancellation_details": {"comment": null, "feedback": null, "reason": null},
            "collection_method": "charge_automatically",
            "created": c.start,
            "currency": c.price.currency,
            "customer": id(Kind::Customer, c.i),
            "days_until_due": null,
            "default_payment_method": null,
            "default_source": null,
            "default_tax_rates": [],
            "description": null,
            "discounts": [],
            "ended_at": null,
            "invoice_settings": {"account_tax_ids": null, "issuer": {"type": "self"}},
            "items": {
                "object": "list",
                "data": [item],
                "has_more": false,
                "total_count": 1,
                "url": format!("/v1/subscription_items?subscription={sub}")
            },
            "latest_invoice": id(Kind::Invoice, c.i),
            "livemode": true,
            "metadata": {},
            "next_pending_invoice_item_invoice": null,
            "on_behalf_of": null,
            "pause_collection": null,
            "payment_settings": {
                "payment_method_options": null,
                "payment_method_types": null,
                "save_default_payment_method": "off"
            },
            "pending_invoice_item_interval": null,
            "pending_setup_intent": null,
            "pending_update": null,
            "schedule": null,
            "start_date": c.start,
            "status": "active",
            "test_clock": null,
            "transfer_data": null,
            "trial_end": null,
            "trial_settings": {"end_behavior": {"missing_payment_method": "create_invoice"}},
            "trial_start": null
        })
    }

    /// The paid Invoice of the customer's current period, with its one subscription line.
    pub fn invoice(c: &Customer) -> Value {
        let inv = id(Kind::Invoice, c.i);
        let sub = id(Kind::Subscription, c.i);
        let amount = c.price.unit_amount * c.quantity as i64;
        let n = c.i + 1;
        let finalized = c.period_start + 3_600;
        let line = json!({
            "id": id(Kind::InvoiceLine, c.i),
            "object": "line_item",
            "amount": amount,
            "currency": c.price.currency,
            "description": format!(
                "{} × {} (at {} {} / {})",
                c.quantity,
                c.price.nickname,
                Decimal::new(c.price.unit_amount, 2),
                c.price.currency.to_uppercase(),
                c.price.interval
            ),
            "discount_amounts": [],
            "discountable": true,
            "discounts": [],
            "invoice": inv,
            "livemode": true,
            "metadata": {},
            "parent": {
                "invoice_item_details": null,
                "subscription_item_details": {
                    "invoice_item": null,
                    "proration": false,
                    "proration_details": {"credited_items": null},
                    "subscription": sub,
                    "subscription_item": id(Kind::SubscriptionItem, c.i)
                },
                "type": "subscription_item_details"
            },
            "period": {"end": c.period_end, "start": c.period_start},
            "pretax_credit_amounts": [],
            "pricing": {
                "price_details": {"price": c.price.id, "product": c.price.product},
                "type": "price_details",
                "unit_amount_decimal": c.price.unit_amount.to_string()
            },
            "quantity": c.quantity,
            "taxes": []
        });
        json!({
            "id": inv,
            "object": "invoice",
            "account_country": "US",
            "account_name": "cs-pulse bench",
            "account_tax_ids": null,
            "amount_due": amount,
            "amount_overpaid": 0,
            "amount_paid": amount,
            "amount_remaining": 0,
            "amount_shipping": 0,
            "application": null,
            "attempt_count": 1,
            "attempted": true,
            "auto_advance": false,
            "automatic_tax": {"disabled_reason": null, "enabled": false, "liability": null, "provider": null, "status": null},
            "automatically_finalizes_at": null,
            "billing_reason": if c.cycles == 0 { "subscription_create" } else { "subscription_cycle" },
            "collection_method": "charge_automatically",
            "created": c.period_start,
            "currency": c.price.currency,
            "custom_fields": null,
            "customer": id(Kind::Customer, c.i),
            "customer_address": null,
            "customer_email": format!("billing@company{n}.example"),
            "customer_name": format!("Company {n}"),
            "customer_phone": null,
            "customer_shipping": null,
            "customer_tax_exempt": "none",
            "customer_tax_ids": [],
            "default_payment_method": null,
            "default_source": null,
            "default_tax_rates": [],
            "description": null,
            "discounts": [],
            "due_date": null,
            "effective_at": finalized,
            "ending_balance": 0,
            "footer": null,
            "from_invoice": null,
            "hosted_invoice_url": format!("https://invoice.stripe.com/i/acct_bench/{inv}"),
            "invoice_pdf": format!("https://pay.stripe.com/invoice/acct_bench/{inv}/pdf"),
            "issuer": {"type": "self"},
            "last_finalization_error": null,
            "latest_revision": null,
            "lines": {
                "object": "list",
                "data": [line],
                "has_more": false,
                "total_count": 1,
                "url": format!("/v1/invoices/{inv}/lines")
            },
            "livemode": true,
            "metadata": {},
            "next_payment_attempt": null,
            "number": format!("{:08X}-{:04}", hash(c.i, 3) as u32, c.cycles + 1),
            "on_behalf_of": null,
            "parent": {
                "quote_details": null,
                "subscription_details": {"metadata": {}, "subscription": sub},
                "type": "subscription_details"
            },
            "payment_settings": {
                "default_mandate": null,
                "payment_method_options": null,
                "payment_method_types": null
            },
            "period_end": c.period_start,
            "period_start": c.prev_period_start,
            "post_payment_credit_notes_amount": 0,
            "pre_payment_credit_notes_amount": 0,
            "receipt_number": null,
            "rendering": null,
            "shipping_cost": null,
            "shipping_details": null,
            "starting_balance": 0,
            "statement_descriptor": null,
            "status": "paid",
            "status_transitions": {
                "finalized_at": finalized,
                "marked_uncollectible_at": null,
                "paid_at": finalized,
                "voided_at": null
            },
            "subtotal": amount,
            "subtotal_excluding_tax": amount,
            "test_clock": null,
            "total": amount,
            "total_discount_amounts": [],
            "total_excluding_tax": amount,
            "total_pretax_credit_amounts": [],
            "total_taxes": [],
            "webhooks_delivered_at": finalized
        })
    }
}

/// A local Stripe: list endpoints over the generated account, behind a strict rate limiter.
pub mod server {
    use std::collections::VecDeque;
    use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};

    use axum::extract::{Path, RawQuery, State};
    use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
    use axum::response::{IntoResponse, Response};
    use axum::routing::get;
    use axum::Router;
    use serde_json::{json, Value};

    use super::account::{self, Account, Kind, PRICES};

    /// The API version the server speaks (the `Stripe-Version` every request must pin).
    pub const VERSION: &str = "2025-03-31.basil";

    /// A sliding one-second window over the accepted requests.
    struct Window {
        accepted: VecDeque<Instant>,
        /// The last accepted request of the run.
        last: Option<Instant>,
    }

    /// What the server counted during one run.
    #[derive(Clone, Debug, Default)]
    pub struct Counts {
        pub accepted: u64,
        pub refused: u64,
        /// Requests answered with another error (a bad parameter, header or path): the
        /// client did something Stripe would refuse.
        pub bad: u64,
        /// Seconds from the run's start ([`Shared::reset`]) to the last accepted request.
        pub last: f64,
        /// Seconds the server spent building and writing the pages it served (summed).
        pub busy: f64,
        /// Pages served (answers 200).
        pub served: u64,
        /// The pages of each list, by path.
        pub lists: Vec<ListCounts>,
        /// The first few bad requests, for the report.
        pub bad_examples: Vec<String>,
    }

    /// How one list was read.
    #[derive(Clone, Debug, Default)]
    pub struct ListCounts {
        /// `customers`, `subscriptions`, ...
        pub name: String,
        /// Pages served.
        pub pages: u64,
        /// Seconds from the run's start to the request for the first and the last page.
        pub first: f64,
        pub last: f64,
        /// Seconds between the server's answer to a page and the request for the next page
        /// (the client receiving, decoding, waiting on its limiter and sending), summed.
        pub client: f64,
        /// Seconds the server spent on the pages, summed.
        pub server: f64,
        /// Seconds from the run's start to the request for each page.
        pub arrivals: Vec<f64>,
    }

    /// The running counts of one list.
    struct ListState {
        pages: u64,
        first: Instant,
        last: Instant,
        answered: Option<Instant>,
        client: Duration,
        server: Duration,
        arrivals: Vec<Instant>,
    }

    pub struct Shared {
        account: Account,
        /// Invoice indices, newest first (by `created`, then index).
        invoice_order: Vec<u32>,
        /// The position of each invoice in `invoice_order`.
        invoice_pos: Vec<u32>,
        rate: AtomicU32,
        window: Mutex<Window>,
        accepted: AtomicU64,
        refused: AtomicU64,
        bad: AtomicU64,
        bad_examples: Mutex<Vec<String>>,
        request_seq: AtomicU64,
        started: Mutex<Instant>,
        busy_nanos: AtomicU64,
        served: AtomicU64,
        lists: Mutex<std::collections::BTreeMap<String, ListState>>,
        /// How long the server waits before answering a page (Stripe's own response time).
        latency: Duration,
    }

    impl Shared {
        /// The server of `n` customers, answering each page after `latency`.
        pub fn new(n: u32, latency: Duration) -> Shared {
            let account = Account::new(n);
            let mut invoice_order: Vec<u32> = (0..n).collect();
            invoice_order.sort_by_key(|&i| std::cmp::Reverse((account.invoice_created(i), i)));
            let mut invoice_pos = vec![0u32; n as usize];
            for (pos, &i) in invoice_order.iter().enumerate() {
                if let Some(p) = invoice_pos.get_mut(i as usize) {
                    *p = pos as u32;
                }
            }
            Shared {
                account,
                invoice_order,
                invoice_pos,
                rate: AtomicU32::new(1),
                window: Mutex::new(Window {
                    accepted: VecDeque::new(),
                    last: None,
                }),
                accepted: AtomicU64::new(0),
                refused: AtomicU64::new(0),
                bad: AtomicU64::new(0),
                bad_examples: Mutex::new(Vec::new()),
                request_seq: AtomicU64::new(0),
                started: Mutex::new(Instant::now()),
                busy_nanos: AtomicU64::new(0),
                served: AtomicU64::new(0),
                lists: Mutex::new(std::collections::BTreeMap::new()),
                latency,
            }
        }

        pub fn account(&self) -> &Account {
            &self.account
        }

        /// Starts a run at `rate` requests per second: empty window, zero counts.
        pub fn reset(&self, rate: u32) {
            self.rate.store(rate.max(1), Ordering::SeqCst);
            if let Ok(mut w) = self.window.lock() {
                w.accepted.clear();
                w.last = None;
            }
            self.accepted.store(0, Ordering::SeqCst);
            self.refused.store(0, Ordering::SeqCst);
            self.bad.store(0, Ordering::SeqCst);
            if let Ok(mut b) = self.bad_examples.lock() {
                b.clear();
            }
            self.busy_nanos.store(0, Ordering::SeqCst);
            self.served.store(0, Ordering::SeqCst);
            if let Ok(mut a) = self.lists.lock() {
                a.clear();
            }
            if let Ok(mut s) = self.started.lock() {
                *s = Instant::now();
            }
        }

        pub fn counts(&self) -> Counts {
            let started = self.started.lock().map_or_else(|_| Instant::now(), |s| *s);
            let since =
                |t: Option<Instant>| t.map_or(0.0, |t| t.duration_since(started).as_secs_f64());
            let last = self.window.lock().map_or(0.0, |w| since(w.last));
            Counts {
                accepted: self.accepted.load(Ordering::SeqCst),
                refused: self.refused.load(Ordering::SeqCst),
                bad: self.bad.load(Ordering::SeqCst),
                last,
                busy: self.busy_nanos.load(Ordering::SeqCst) as f64 / 1e9,
                served: self.served.load(Ordering::SeqCst),
                lists: self
                    .lists
                    .lock()
                    .map(|lists| {
                        lists
                            .iter()
                            .map(|(name, l)| ListCounts {
                                name: name.clone(),
                                pages: l.pages,
                                first: l.first.duration_since(started).as_secs_f64(),
                                last: l.last.duration_since(started).as_secs_f64(),
                                client: l.client.as_secs_f64(),
                                server: l.server.as_secs_f64(),
                                arrivals: l
                                    .arrivals
                                    .iter()
                                    .map(|t| t.duration_since(started).as_secs_f64())
                                    .collect(),
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
                bad_examples: self
                    .bad_examples
                    .lock()
                    .map(|b| b.clone())
                    .unwrap_or_default(),
            }
        }

        /// Whether a request arriving now is within the limit: fewer than `rate` requests
        /// accepted in the last second. An accepted request is counted in the window.
        fn admit(&self) -> bool {
            let rate = self.rate.load(Ordering::SeqCst) as usize;
            let now = Instant::now();
            let Ok(mut w) = self.window.lock() else {
                return false;
            };
            while w
                .accepted
                .front()
                .is_some_and(|&t| now.duration_since(t) >= Duration::from_secs(1))
            {
                w.accepted.pop_front();
            }
            if w.accepted.len() >= rate {
                drop(w);
                self.refused.fetch_add(1, Ordering::SeqCst);
                return false;
            }
            w.accepted.push_back(now);
            w.last = Some(now);
            drop(w);
            self.accepted.fetch_add(1, Ordering::SeqCst);
            true
        }

        fn bad_request(&self, what: String) {
            self.bad.fetch_add(1, Ordering::SeqCst);
            if let Ok(mut b) = self.bad_examples.lock() {
                if b.len() < 5 {
                    b.push(what);
                }
            }
        }
    }

    /// The router: the four list endpoints, everything else a Stripe 404.
    pub fn router(shared: Arc<Shared>) -> Router {
        Router::new()
            .route("/v1/:list", get(list))
            .fallback(unknown)
            .with_state(shared)
    }

    /// A JSON answer with Stripe's headers.
    fn answer(shared: &Shared, status: StatusCode, body: &Value) -> Response {
        let seq = shared.request_seq.fetch_add(1, Ordering::Relaxed);
        let mut response = (status, body.to_string()).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        headers.insert("stripe-version", HeaderValue::from_static(VERSION));
        if let Ok(v) = HeaderValue::from_str(&format!("req_bench{seq:012}")) {
            headers.insert("request-id", v);
        }
        response
    }

    /// Stripe's error object.
    fn error(shared: &Shared, status: StatusCode, body: Value, why: String) -> Response {
        shared.bad_request(why);
        answer(shared, status, &json!({ "error": body }))
    }

    async fn unknown(State(shared): State<Arc<Shared>>, uri: axum::http::Uri) -> Response {
        if !shared.admit() {
            return rate_limited(&shared);
        }
        let path = uri.path().to_string();
        error(
            &shared,
            StatusCode::NOT_FOUND,
            json!({
                "message": format!("Unrecognized request URL (GET: {path}). Please see https://stripe.com/docs or we can help at https://support.stripe.com/."),
                "type": "invalid_request_error"
            }),
            format!("GET {path}: unknown path"),
        )
    }

    /// Stripe's answer to a request over the rate limit.
    fn rate_limited(shared: &Shared) -> Response {
        answer(
            shared,
            StatusCode::TOO_MANY_REQUESTS,
            &json!({
                "error": {
                    "code": "rate_limit",
                    "doc_url": "https://stripe.com/docs/error-codes/rate-limit",
                    "message": "Too many requests hit the API too quickly. We recommend an exponential backoff of your requests.",
                    "type": "invalid_request_error"
                }
            }),
        )
    }

    fn invalid_param(shared: &Shared, param: &str, message: String, why: String) -> Response {
        error(
            shared,
            StatusCode::BAD_REQUEST,
            json!({
                "message": message,
                "param": param,
                "type": "invalid_request_error"
            }),
            why,
        )
    }

    /// `GET /v1/{customers,subscriptions,prices,invoices}`.
    async fn list(
        State(shared): State<Arc<Shared>>,
        Path(list): Path<String>,
        RawQuery(query): RawQuery,
        headers: HeaderMap,
    ) -> Response {
        if !shared.admit() {
            return rate_limited(&shared);
        }
        let arrived = Instant::now();
        if !shared.latency.is_zero() {
            tokio::time::sleep(shared.latency).await;
        }
        let began = Instant::now();
        let what = format!("GET /v1/{list}?{}", query.as_deref().unwrap_or(""));
        let bearer = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .is_some_and(|k| k.starts_with("rk_") || k.starts_with("sk_"));
        if !bearer {
            return error(
                &shared,
                StatusCode::UNAUTHORIZED,
                json!({
                    "message": "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').",
                    "type": "invalid_request_error"
                }),
                format!("{what}: no Bearer API key"),
            );
        }
        let version = headers.get("stripe-version").and_then(|v| v.to_str().ok());
        if version != Some(VERSION) {
            return error(
                &shared,
                StatusCode::BAD_REQUEST,
                json!({
                    "message": format!("This benchmark server speaks API version {VERSION} only."),
                    "type": "invalid_request_error"
                }),
                format!("{what}: Stripe-Version {version:?}"),
            );
        }

        let mut limit: usize = 10;
        let mut starting_after: Option<String> = None;
        let mut expand: Vec<String> = Vec::new();
        for (k, v) in form_urlencoded::parse(query.as_deref().unwrap_or("").as_bytes()) {
            match (k.as_ref(), list.as_str()) {
                ("limit", _) => match v.parse::<usize>() {
                    Ok(n) if (1..=100).contains(&n) => limit = n,
                    _ => {
                        return invalid_param(
                            &shared,
                            "limit",
                            format!("Invalid integer: {v}; must be between 1 and 100"),
                            format!("{what}: limit {v}"),
                        )
                    }
                },
                ("starting_after", _) => starting_after = Some(v.into_owned()),
                ("expand[]", _) => expand.push(v.into_owned()),
                ("status", "subscriptions") if v == "all" => {}
                _ => {
                    return invalid_param(
                        &shared,
                        &k,
                        format!("Received unknown parameter: {k}"),
                        format!("{what}: parameter {k}={v} not served by the benchmark"),
                    )
                }
            }
        }
        let expandable: &[&str] = match list.as_str() {
            "subscriptions" => &[
                "data.discounts",
                "data.items.data.discounts",
                "data.customer",
            ],
            "prices" => &["data.tiers"],
            _ => &[],
        };
        if let Some(e) = expand.iter().find(|e| !expandable.contains(&e.as_str())) {
            return invalid_param(
                &shared,
                "expand",
                format!("This property cannot be expanded ({e})."),
                format!("{what}: expand {e}"),
            );
        }

        let account = shared.account();
        let n = account.n;
        // Newest first: customers and subscriptions by index, invoices by `created`.
        let (kind, len) = match list.as_str() {
            "customers" => (Some(Kind::Customer), n as usize),
            "subscriptions" => (Some(Kind::Subscription), n as usize),
            "invoices" => (Some(Kind::Invoice), n as usize),
            "prices" => (None, PRICES.len()),
            _ => {
                return error(
                    &shared,
                    StatusCode::NOT_FOUND,
                    json!({
                        "message": format!("Unrecognized request URL (GET: /v1/{list})."),
                        "type": "invalid_request_error"
                    }),
                    format!("{what}: unknown list"),
                )
            }
        };
        let start = match &starting_after {
            None => 0,
            Some(after) => {
                let pos = match kind {
                    None => PRICES.iter().rev().position(|p| p.id == after.as_str()),
                    Some(Kind::Invoice) => account::index(Kind::Invoice, after, n)
                        .and_then(|i| shared.invoice_pos.get(i as usize))
                        .map(|&p| p as usize),
                    Some(kind) => account::index(kind, after, n).map(|i| (n - 1 - i) as usize),
                };
                match pos {
                    Some(p) => p + 1,
                    None => {
                        return error(
                            &shared,
                            StatusCode::BAD_REQUEST,
                            json!({
                                "code": "resource_missing",
                                "message": format!("No such object: '{after}'"),
                                "param": "starting_after",
                                "type": "invalid_request_error"
                            }),
                            format!("{what}: unknown starting_after"),
                        )
                    }
                }
            }
        };
        let end = (start + limit).min(len);
        let data: Vec<Value> = (start.min(end)..end)
            .filter_map(|pos| match kind {
                None => PRICES.get(PRICES.len() - 1 - pos).map(account::price),
                Some(Kind::Invoice) => shared
                    .invoice_order
                    .get(pos)
                    .map(|&i| account::invoice(&account.customer(i))),
                Some(Kind::Customer) => {
                    Some(account::customer(&account.customer(n - 1 - pos as u32)))
                }
                Some(_) => Some(account::subscription(&account.customer(n - 1 - pos as u32))),
            })
            .collect();
        let body = json!({
            "object": "list",
            "url": format!("/v1/{list}"),
            "has_more": end < len,
            "data": data
        });
        let response = answer(&shared, StatusCode::OK, &body);
        let nanos = u64::try_from(began.elapsed().as_nanos()).unwrap_or(u64::MAX);
        shared.busy_nanos.fetch_add(nanos, Ordering::SeqCst);
        shared.served.fetch_add(1, Ordering::SeqCst);
        if let Ok(mut lists) = shared.lists.lock() {
            let done = Instant::now();
            let l = lists.entry(list).or_insert(ListState {
                pages: 0,
                first: arrived,
                last: arrived,
                answered: None,
                client: Duration::ZERO,
                server: Duration::ZERO,
                arrivals: Vec::new(),
            });
            if let Some(prev) = l.answered {
                l.client += arrived.saturating_duration_since(prev);
            }
            l.pages += 1;
            l.arrivals.push(arrived);
            l.last = arrived;
            l.answered = Some(done);
            l.server += done.saturating_duration_since(began);
        }
        response
    }
}

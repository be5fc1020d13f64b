//! A realistic synthetic catalogue, deterministic for a seed: product lines of real kinds
//! (categories, brands, model families, attributes, plausible prices), used by the search
//! contract tests and the search benchmark.

use aisle::domain::{Item, ItemId, SearchDoc, Timestamp, WarehouseId};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde_json::json;

/// One product line: category, brand, model names, attributes to draw, price range (cents).
struct Line {
    category: &'static str,
    brand: &'static str,
    models: &'static [&'static str],
    noun: &'static str,
    attributes: &'static [(&'static str, &'static [&'static str])],
    price: (i64, i64),
}

const TV: &[(&str, &[&str])] = &[
    (
        "size",
        &["43 in", "50 in", "55 in", "65 in", "75 in", "85 in"],
    ),
    ("panel", &["OLED", "QLED", "LED", "Mini-LED"]),
    ("resolution", &["4K", "8K", "1080p"]),
];
const PHONE: &[(&str, &[&str])] = &[
    ("storage", &["128GB", "256GB", "512GB", "1TB"]),
    ("color", &["Black", "White", "Blue", "Green", "Titanium"]),
];
const LAPTOP: &[(&str, &[&str])] = &[
    ("ram", &["8GB", "16GB", "32GB", "64GB"]),
    ("storage", &["256GB", "512GB", "1TB", "2TB"]),
    ("screen", &["13 in", "14 in", "15 in", "16 in"]),
];
const AUDIO: &[(&str, &[&str])] = &[
    ("color", &["Black", "White", "Silver", "Blue"]),
    ("connection", &["Bluetooth", "Wired", "USB-C"]),
];
const APPLIANCE: &[(&str, &[&str])] = &[
    ("finish", &["Stainless Steel", "Black Stainless", "White"]),
    (
        "capacity",
        &["4.5 cu ft", "5.0 cu ft", "22 cu ft", "28 cu ft"],
    ),
];
const CAMERA: &[(&str, &[&str])] = &[
    ("sensor", &["Full Frame", "APS-C", "Micro Four Thirds"]),
    ("color", &["Black", "Silver"]),
];

const LINES: &[Line] = &[
    Line {
        category: "tvs",
        brand: "Samsung",
        models: &[
            "Neo QLED QN90D",
            "Crystal UHD DU7200",
            "The Frame LS03D",
            "OLED S90D",
        ],
        noun: "Smart TV",
        attributes: TV,
        price: (29_999, 349_999),
    },
    Line {
        category: "tvs",
        brand: "LG",
        models: &["OLED evo C4", "OLED B4", "QNED80", "UHD UT7000"],
        noun: "Smart TV",
        attributes: TV,
        price: (27_999, 299_999),
    },
    Line {
        category: "tvs",
        brand: "Sony",
        models: &["BRAVIA 7", "BRAVIA 8 OLED", "BRAVIA 3", "X90L"],
        noun: "Google TV",
        attributes: TV,
        price: (49_999, 399_999),
    },
    Line {
        category: "tvs",
        brand: "TCL",
        models: &["QM8", "Q6", "S4"],
        noun: "Roku TV",
        attributes: TV,
        price: (19_999, 149_999),
    },
    Line {
        category: "tvs",
        brand: "Hisense",
        models: &["U8N", "U7N", "A6"],
        noun: "Smart TV",
        attributes: TV,
        price: (17_999, 129_999),
    },
    Line {
        category: "phones",
        brand: "Apple",
        models: &[
            "iPhone 16",
            "iPhone 16 Pro",
            "iPhone 16 Pro Max",
            "iPhone 15",
            "iPhone SE",
        ],
        noun: "Smartphone",
        attributes: PHONE,
        price: (42_900, 159_900),
    },
    Line {
        category: "phones",
        brand: "Samsung",
        models: &[
            "Galaxy S24",
            "Galaxy S24 Ultra",
            "Galaxy Z Flip6",
            "Galaxy A35",
        ],
        noun: "Smartphone",
        attributes: PHONE,
        price: (39_999, 189_999),
    },
    Line {
        category: "phones",
        brand: "Google",
        models: &["Pixel 9", "Pixel 9 Pro", "Pixel 8a"],
        noun: "Smartphone",
        attributes: PHONE,
        price: (49_900, 109_900),
    },
    Line {
        category: "phones",
        brand: "Motorola",
        models: &["moto g power", "edge 2024", "razr+"],
        noun: "Smartphone",
        attributes: PHONE,
        price: (19_999, 99_999),
    },
    Line {
        category: "laptops",
        brand: "Apple",
        models: &["MacBook Air M3", "MacBook Pro M4", "MacBook Pro M4 Max"],
        noun: "Laptop",
        attributes: LAPTOP,
        price: (99_900, 399_900),
    },
    Line {
        category: "laptops",
        brand: "Dell",
        models: &["XPS 13", "XPS 16", "Inspiron 15", "Latitude 7450"],
        noun: "Laptop",
        attributes: LAPTOP,
        price: (59_999, 249_999),
    },
    Line {
        category: "laptops",
        brand: "Lenovo",
        models: &[
            "ThinkPad X1 Carbon",
            "Yoga 9i",
            "IdeaPad Slim 5",
            "Legion Pro 7i",
        ],
        noun: "Laptop",
        attributes: LAPTOP,
        price: (49_999, 279_999),
    },
    Line {
        category: "laptops",
        brand: "HP",
        models: &["Spectre x360", "Envy 16", "Pavilion Plus", "OMEN 17"],
        noun: "Laptop",
        attributes: LAPTOP,
        price: (54_999, 229_999),
    },
    Line {
        category: "laptops",
        brand: "ASUS",
        models: &["Zenbook 14 OLED", "ROG Zephyrus G16", "Vivobook 16"],
        noun: "Laptop",
        attributes: LAPTOP,
        price: (49_999, 269_999),
    },
    Line {
        category: "headphones",
        brand: "Sony",
        models: &["WH-1000XM5", "WF-1000XM5", "ULT Wear"],
        noun: "Wireless Noise Cancelling Headphones",
        attributes: AUDIO,
        price: (9_999, 39_999),
    },
    Line {
        category: "headphones",
        brand: "Bose",
        models: &[
            "QuietComfort Ultra",
            "QuietComfort 45",
            "Ultra Open Earbuds",
        ],
        noun: "Headphones",
        attributes: AUDIO,
        price: (14_999, 42_999),
    },
    Line {
        category: "headphones",
        brand: "Apple",
        models: &["AirPods Pro 2", "AirPods 4", "AirPods Max"],
        noun: "Earbuds",
        attributes: AUDIO,
        price: (12_900, 54_900),
    },
    Line {
        category: "headphones",
        brand: "JBL",
        models: &["Tune 770NC", "Live Pro 2", "Tour One M2"],
        noun: "Headphones",
        attributes: AUDIO,
        price: (4_999, 29_999),
    },
    Line {
        category: "speakers",
        brand: "Sonos",
        models: &["Era 100", "Era 300", "Move 2", "Arc"],
        noun: "Wireless Speaker",
        attributes: AUDIO,
        price: (19_900, 89_900),
    },
    Line {
        category: "speakers",
        brand: "JBL",
        models: &["Flip 6", "Charge 5", "Boombox 3"],
        noun: "Portable Bluetooth Speaker",
        attributes: AUDIO,
        price: (9_999, 49_999),
    },
    Line {
        category: "refrigerators",
        brand: "Whirlpool",
        models: &["WRF555SDFZ", "WRS325SDHZ", "WRT318FZDW"],
        noun: "Refrigerator",
        attributes: APPLIANCE,
        price: (89_999, 299_999),
    },
    Line {
        category: "refrigerators",
        brand: "GE",
        models: &["Profile PFE28KYNFS", "GTE18GMNRSS", "Café CVE28DP2NS1"],
        noun: "Refrigerator",
        attributes: APPLIANCE,
        price: (79_999, 399_999),
    },
    Line {
        category: "washers",
        brand: "LG",
        models: &["WM4000HWA", "WT7400CW", "WM6700HBA"],
        noun: "Washer",
        attributes: APPLIANCE,
        price: (69_999, 179_999),
    },
    Line {
        category: "washers",
        brand: "Maytag",
        models: &["MVW6230HW", "MHW6630HW"],
        noun: "Washer",
        attributes: APPLIANCE,
        price: (64_999, 139_999),
    },
    Line {
        category: "cameras",
        brand: "Canon",
        models: &["EOS R6 Mark II", "EOS R50", "EOS R8"],
        noun: "Mirrorless Camera",
        attributes: CAMERA,
        price: (67_999, 249_999),
    },
    Line {
        category: "cameras",
        brand: "Nikon",
        models: &["Z6III", "Zf", "Z50II"],
        noun: "Mirrorless Camera",
        attributes: CAMERA,
        price: (85_999, 249_999),
    },
    Line {
        category: "cameras",
        brand: "Fujifilm",
        models: &["X-T5", "X100VI", "X-S20"],
        noun: "Digital Camera",
        attributes: CAMERA,
        price: (109_999, 199_999),
    },
];

const BLURBS: &[&str] = &[
    "Free shipping and easy returns.",
    "Energy efficient and built to last.",
    "Includes a two-year limited warranty.",
    "Our best-selling model this season.",
    "Sleek design that fits any room.",
    "Fast setup with the companion app.",
];

/// `n` listings, the same for the same `seed`, roughly 70% of them in stock, each of those
/// held at one to three of the shipped warehouse sites.
pub fn generate(n: usize, seed: u64) -> Vec<SearchDoc> {
    let sites: Vec<WarehouseId> = crate::seed::warehouse_sites()
        .expect("infra/data/warehouses.json")
        .into_iter()
        .map(|w| w.warehouse_id)
        .collect();
    let mut rng = StdRng::seed_from_u64(seed);
    let mut ids = StdRng::seed_from_u64(seed ^ 0x05ee_d1d5);
    let seller = uuid::Uuid::from_u64_pair(seed, 1).to_string();
    let start = Timestamp::from_unix_millis(1_735_689_600_000); // 2025-01-01
    (0..n)
        .map(|_| {
            let line = &LINES[rng.gen_range(0..LINES.len())];
            let model = line.models.choose(&mut rng).expect("models");
            let mut attributes = serde_json::Map::new();
            for (name, values) in line.attributes {
                attributes.insert((*name).into(), json!(values.choose(&mut rng)));
            }
            let lead = attributes.values().next().and_then(|v| v.as_str()).unwrap_or("");
            let name = format!("{} {model} {lead} {}", line.brand, line.noun);
            let price = rng.gen_range(line.price.0..=line.price.1) / 100 * 100 - 1;
            // Random (version 4) ids as the shop makes them, from their own seeded stream.
            let id = ItemId::try_from(
                uuid::Builder::from_random_bytes(ids.gen()).into_uuid().to_string(),
            )
            .expect("uuid");
            let created = start.plus_millis(rng.gen_range(0..60_000_000_000));
            let item: Item = serde_json::from_value(json!({
                "itemId": id,
                "sellerId": seller,
                "name": name,
                "description": format!("{} {model} {}. {}", line.brand, line.noun.to_lowercase(), BLURBS.choose(&mut rng).expect("blurbs")),
                "category": line.category,
                "brand": line.brand,
                "price": { "amount": price, "currency": "USD" },
                "attributes": attributes,
                "images": [],
                "lowStockThreshold": 5,
                "createdAt": created,
                "updatedAt": created,
                "version": 1
            }))
            .expect("generated items are valid");
            let in_stock = rng.gen_bool(0.7);
            let mut held: Vec<WarehouseId> = if in_stock {
                let count = rng.gen_range(1..=3);
                sites.choose_multiple(&mut rng, count).cloned().collect()
            } else {
                Vec::new()
            };
            held.sort();
            SearchDoc {
                item,
                in_stock,
                stock_version: 1,
                sites: held,
                stock_read_at: 1,
            }
        })
        .collect()
}

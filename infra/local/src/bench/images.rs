//! Product image renditions: how long one upload takes to check and render
//! (`aisle::usecases::images::render`), for a phone photo's size and a small one.

use std::time::Instant;

use aisle::usecases::images::{render, Encoding};
use anyhow::Result;
use image::{Rgb, RgbImage};

/// A photo-like picture (gradients and fine texture, which JPEG cannot squeeze to nothing).
fn picture(width: u32, height: u32) -> RgbImage {
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    RgbImage::from_fn(width, height, |x, y| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let noise = (state % 24) as u32;
        Rgb([
            ((x * 200 / width) + noise) as u8,
            ((y * 200 / height) + noise) as u8,
            (((x + y) * 150 / (width + height)) + noise) as u8,
        ])
    })
}

/// Render `runs` times an upload of each size and print the time per upload and what it made.
pub fn images(runs: usize) -> Result<()> {
    for (width, height) in [(4_000u32, 3_000u32), (1_200, 900)] {
        let mut upload = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut upload, 90)
            .encode_image(&picture(width, height))?;
        let mut times = Vec::new();
        let mut made = None;
        for _ in 0..runs {
            let started = Instant::now();
            made = Some(render(&upload).map_err(|e| anyhow::anyhow!("{e}"))?);
            times.push(started.elapsed().as_secs_f64() * 1000.0);
        }
        times.sort_by(f64::total_cmp);
        let made = made.expect("at least one run");
        let sizes: Vec<String> = made
            .renditions
            .iter()
            .map(|r| {
                format!(
                    "{}px {} {:.1} KB",
                    r.width,
                    if r.encoding == Encoding::Jpeg {
                        "jpeg"
                    } else {
                        "webp"
                    },
                    r.bytes.len() as f64 / 1024.0
                )
            })
            .collect();
        println!(
            "{width} x {height} JPEG upload ({:.1} MB): render p50 {:.0} ms, max {:.0} ms over {runs} runs; {}",
            upload.len() as f64 / 1_048_576.0,
            times[times.len() / 2],
            times[times.len() - 1],
            sizes.join(", ")
        );
    }
    Ok(())
}

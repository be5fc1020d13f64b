//! Product image renditions: what a seller's upload becomes before a shopper sees it.
//!
//! An upload is decoded for real (its bytes decide what it is, not its name or declared type),
//! refused when it is not a JPEG, PNG or WebP image, when it is too large in bytes, or when its
//! header declares more pixels than [`MAX_PIXELS`] (a decompression bomb is refused from its
//! header, before any pixel is decoded, and the decoder is held to the same bound). What is
//! accepted is turned upright (EXIF orientation), flattened onto white and re-encoded at each
//! width of [`WIDTHS`] as JPEG and WebP: nothing of the upload's metadata (EXIF with its GPS
//! position, comments, ICC profiles) survives re-encoding. Each rendition's name carries a
//! digest of the upload, so a replaced image is a new URL and a CDN can cache every name for a
//! year without ever serving a stale picture.
//!
//! [`super::process`] runs this on every upload; `make bench-images` times it.

use std::io::Cursor;

use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits, RgbImage};
use sha2::{Digest, Sha256};

/// The largest upload accepted, in bytes (the presigned POST's `content-length-range` too).
pub const MAX_UPLOAD_BYTES: usize = 10 * 1024 * 1024;
/// The most pixels an upload may declare (40 megapixels: a large phone photo is 12 to 48).
pub const MAX_PIXELS: u64 = 40_000_000;
/// The longest side an upload may declare.
pub const MAX_SIDE: u32 = 12_000;
/// The widths renditions are made at (never wider than the upload).
pub const WIDTHS: [u32; 3] = [160, 400, 800];
/// JPEG quality (of 100) and WebP quality (of 100) of the renditions.
const JPEG_QUALITY: u8 = 82;
const WEBP_QUALITY: f32 = 80.0;

/// Why an upload was refused, in words for the seller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// More bytes than [`MAX_UPLOAD_BYTES`].
    #[error("the file is {bytes} bytes; the most accepted is {max}")]
    TooLarge {
        /// Its size.
        bytes: usize,
        /// The limit.
        max: usize,
    },
    /// Not a JPEG, PNG or WebP image, whatever its name says.
    #[error("the file is not a JPEG, PNG or WebP image")]
    NotAnImage,
    /// The header declares too many pixels (or too long a side).
    #[error("the image is {width} x {height} pixels; the most accepted is {max_pixels} pixels, {max_side} on a side")]
    TooManyPixels {
        /// Declared width.
        width: u32,
        /// Declared height.
        height: u32,
        /// The pixel limit.
        max_pixels: u64,
        /// The side limit.
        max_side: u32,
    },
    /// An image header, but the data does not decode.
    #[error("the image is damaged: {0}")]
    Damaged(String),
}

/// A rendition's encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// JPEG (every browser).
    Jpeg,
    /// WebP (smaller; every current browser).
    Webp,
}

impl Encoding {
    /// The file extension.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Jpeg => "jpg",
            Self::Webp => "webp",
        }
    }

    /// The `Content-Type`.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Jpeg => "image/jpeg",
            Self::Webp => "image/webp",
        }
    }
}

/// One rendition.
#[derive(Debug, Clone)]
pub struct Rendition {
    /// Its width in pixels.
    pub width: u32,
    /// Its height in pixels.
    pub height: u32,
    /// How it is encoded.
    pub encoding: Encoding,
    /// Its name: `<digest>-<width>.<ext>` (versioned: a new upload is a new digest).
    pub name: String,
    /// The encoded bytes.
    pub bytes: Vec<u8>,
}

/// What an accepted upload became.
#[derive(Debug, Clone)]
pub struct Rendered {
    /// The upload's digest (hex, 16 characters of SHA-256).
    pub digest: String,
    /// The upright image's width and height.
    pub width: u32,
    /// See `width`.
    pub height: u32,
    /// Every rendition, by width then encoding.
    pub renditions: Vec<Rendition>,
}

/// Check an upload and make its renditions (see the module docs).
pub fn render(upload: &[u8]) -> Result<Rendered, Refusal> {
    if upload.len() > MAX_UPLOAD_BYTES {
        return Err(Refusal::TooLarge {
            bytes: upload.len(),
            max: MAX_UPLOAD_BYTES,
        });
    }
    let reader = ImageReader::new(Cursor::new(upload))
        .with_guessed_format()
        .map_err(|_| Refusal::NotAnImage)?;
    if !matches!(
        reader.format(),
        Some(ImageFormat::Jpeg | ImageFormat::Png | ImageFormat::WebP)
    ) {
        return Err(Refusal::NotAnImage);
    }
    // The header first: the declared size decides before a pixel is decoded.
    let (width, height) = reader
        .into_dimensions()
        .map_err(|e| Refusal::Damaged(e.to_string()))?;
    let too_many = Refusal::TooManyPixels {
        width,
        height,
        max_pixels: MAX_PIXELS,
        max_side: MAX_SIDE,
    };
    if u64::from(width) * u64::from(height) > MAX_PIXELS || width.max(height) > MAX_SIDE {
        return Err(too_many);
    }
    let mut reader = ImageReader::new(Cursor::new(upload))
        .with_guessed_format()
        .map_err(|_| Refusal::NotAnImage)?;
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    // RGBA at the pixel limit, with room for the decoder's own buffers.
    limits.max_alloc = Some(MAX_PIXELS * 4 + (64 << 20));
    reader.limits(limits);
    let mut decoder = reader
        .into_decoder()
        .map_err(|e| Refusal::Damaged(e.to_string()))?;
    let orientation = decoder
        .orientation()
        .map_err(|e| Refusal::Damaged(e.to_string()))?;
    let mut image =
        DynamicImage::from_decoder(decoder).map_err(|e| Refusal::Damaged(e.to_string()))?;
    image.apply_orientation(orientation);
    let upright = flatten(image);
    let digest = hex16(&Sha256::digest(upload));
    let mut renditions = Vec::new();
    // Widest first, each smaller one from the one before: a 12-megapixel upload is read once.
    let mut from = upright.clone();
    for target in widths_for(upright.width()).into_iter().rev() {
        let height = ((u64::from(upright.height()) * u64::from(target)
            + u64::from(upright.width()) / 2)
            / u64::from(upright.width()))
        .max(1) as u32;
        let resized = if target == from.width() {
            from.clone()
        } else {
            image::imageops::resize(
                &from,
                target,
                height,
                image::imageops::FilterType::CatmullRom,
            )
        };
        from = resized.clone();
        for encoding in [Encoding::Jpeg, Encoding::Webp] {
            renditions.push(Rendition {
                width: target,
                height,
                encoding,
                name: format!("{digest}-{target}.{}", encoding.extension()),
                bytes: encode(&resized, encoding)?,
            });
        }
    }
    renditions.sort_by_key(|r| r.width);
    Ok(Rendered {
        digest,
        width: upright.width(),
        height: upright.height(),
        renditions,
    })
}

/// The widths to make for an upload `width` pixels wide: each of [`WIDTHS`] it reaches, or
/// its own width when it is narrower than all of them (never upscaled).
fn widths_for(width: u32) -> Vec<u32> {
    let reached: Vec<u32> = WIDTHS.iter().copied().filter(|w| *w <= width).collect();
    if reached.is_empty() {
        vec![width]
    } else {
        reached
    }
}

/// RGB on white: transparency becomes the page's background colour (JPEG has no alpha).
fn flatten(image: DynamicImage) -> RgbImage {
    if !image.color().has_alpha() {
        return image.into_rgb8();
    }
    let rgba = image.into_rgba8();
    let mut out = RgbImage::new(rgba.width(), rgba.height());
    for (from, to) in rgba.pixels().zip(out.pixels_mut()) {
        let alpha = u16::from(from[3]);
        for c in 0..3 {
            to[c] = ((u16::from(from[c]) * alpha + 255 * (255 - alpha)) / 255) as u8;
        }
    }
    out
}

fn encode(image: &RgbImage, encoding: Encoding) -> Result<Vec<u8>, Refusal> {
    match encoding {
        Encoding::Jpeg => {
            let mut out = Vec::new();
            image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, JPEG_QUALITY)
                .encode_image(image)
                .map_err(|e| Refusal::Damaged(e.to_string()))?;
            Ok(out)
        }
        Encoding::Webp => {
            Ok(
                webp::Encoder::from_rgb(image.as_raw(), image.width(), image.height())
                    .encode(WEBP_QUALITY)
                    .to_vec(),
            )
        }
    }
}

fn hex16(digest: &[u8]) -> String {
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// A PNG of its signature, a header declaring `width` x `height` and one tiny data chunk:
/// what a decompression bomb looks like before it is inflated (65 bytes). [`render`] must
/// refuse it from the header; the tests and the local tooling (`aisle-local picture --bomb`)
/// write it.
pub fn png_header(width: u32, height: u32) -> Vec<u8> {
    fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut crc = crc32fast::Hasher::new();
        crc.update(kind);
        crc.update(data);
        out.extend_from_slice(kind);
        out.extend_from_slice(data);
        out.extend_from_slice(&crc.finalize().to_be_bytes());
    }
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    chunk(&mut out, b"IHDR", &ihdr);
    chunk(
        &mut out,
        b"IDAT",
        &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01],
    );
    chunk(&mut out, b"IEND", &[]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A photo-like test picture: gradients and texture, `width` x `height`.
    fn picture(width: u32, height: u32) -> RgbImage {
        RgbImage::from_fn(width, height, |x, y| {
            image::Rgb([
                (x * 255 / width) as u8,
                (y * 255 / height) as u8,
                ((x * 7 + y * 13) % 256) as u8,
            ])
        })
    }

    fn jpeg(image: &RgbImage) -> Vec<u8> {
        let mut out = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90)
            .encode_image(image)
            .unwrap();
        out
    }

    /// `jpeg` with an EXIF segment (APP1) after the start marker, naming a GPS position.
    fn with_exif(jpeg: &[u8]) -> Vec<u8> {
        let payload = b"Exif\0\0MM\0*GPSLatitude 52.5200 N, camera Model-X serial 12345";
        let mut out = jpeg[..2].to_vec();
        out.extend_from_slice(&[0xFF, 0xE1]);
        out.extend_from_slice(&((payload.len() + 2) as u16).to_be_bytes());
        out.extend_from_slice(payload);
        out.extend_from_slice(&jpeg[2..]);
        out
    }

    #[test]
    fn a_photo_becomes_three_widths_in_jpeg_and_webp_without_its_metadata() {
        let upload = with_exif(&jpeg(&picture(1200, 900)));
        assert!(upload.windows(11).any(|w| w == b"GPSLatitude"));
        let rendered = render(&upload).unwrap();
        assert_eq!((rendered.width, rendered.height), (1200, 900));
        let sizes: Vec<(u32, u32, Encoding)> = rendered
            .renditions
            .iter()
            .map(|r| (r.width, r.height, r.encoding))
            .collect();
        assert_eq!(
            sizes,
            vec![
                (160, 120, Encoding::Jpeg),
                (160, 120, Encoding::Webp),
                (400, 300, Encoding::Jpeg),
                (400, 300, Encoding::Webp),
                (800, 600, Encoding::Jpeg),
                (800, 600, Encoding::Webp),
            ]
        );
        for r in &rendered.renditions {
            assert!(
                !r.bytes.windows(4).any(|w| w == b"Exif"),
                "{} keeps EXIF",
                r.name
            );
            assert!(!r.bytes.windows(11).any(|w| w == b"GPSLatitude"));
            assert!(
                r.name.starts_with(&rendered.digest) && r.name.ends_with(r.encoding.extension())
            );
            // Each is a real image of its stated size.
            let back = image::load_from_memory(&r.bytes).unwrap();
            assert_eq!(
                (back.width(), back.height()),
                (r.width, r.height),
                "{}",
                r.name
            );
        }
    }

    #[test]
    fn a_replaced_image_gets_new_names_and_the_same_upload_the_same_ones() {
        let a = jpeg(&picture(500, 500));
        let b = jpeg(&picture(501, 500));
        assert_eq!(render(&a).unwrap().digest, render(&a).unwrap().digest);
        assert_ne!(render(&a).unwrap().digest, render(&b).unwrap().digest);
    }

    #[test]
    fn a_small_image_is_not_upscaled() {
        let rendered = render(&jpeg(&picture(120, 60))).unwrap();
        assert!(rendered
            .renditions
            .iter()
            .all(|r| (r.width, r.height) == (120, 60)));
    }

    #[test]
    fn a_text_file_named_jpg_is_not_an_image() {
        assert_eq!(
            render(b"name,price\nkettle,25.00\n").unwrap_err(),
            Refusal::NotAnImage
        );
        // A GIF is an image, but not one of the accepted kinds.
        assert_eq!(
            render(b"GIF89a\x01\x00\x01\x00").unwrap_err(),
            Refusal::NotAnImage
        );
    }

    #[test]
    fn a_30000_pixel_square_png_is_refused_from_its_header() {
        let bomb = png_header(30_000, 30_000);
        assert!(bomb.len() < 100, "the whole file is {} bytes", bomb.len());
        assert!(matches!(
            render(&bomb).unwrap_err(),
            Refusal::TooManyPixels {
                width: 30_000,
                height: 30_000,
                ..
            }
        ));
        // Too long a side is refused too, whatever the area.
        assert!(matches!(
            render(&png_header(20_000, 10)).unwrap_err(),
            Refusal::TooManyPixels { .. }
        ));
    }

    #[test]
    fn an_oversized_file_is_refused_before_it_is_read() {
        let mut big = jpeg(&picture(64, 64));
        big.resize(MAX_UPLOAD_BYTES + 1, 0);
        assert!(matches!(
            render(&big).unwrap_err(),
            Refusal::TooLarge { .. }
        ));
    }

    #[test]
    fn a_cut_off_png_is_refused_with_the_decoders_reason() {
        // (The JPEG decoder draws what arrived of a cut-off JPEG, as browsers do.)
        let mut png = Vec::new();
        picture(300, 200)
            .write_to(&mut Cursor::new(&mut png), ImageFormat::Png)
            .unwrap();
        let cut = &png[..png.len() / 3];
        assert!(matches!(render(cut).map(|_| ()), Err(Refusal::Damaged(_))));
    }

    #[test]
    fn transparency_becomes_white() {
        let mut png = Vec::new();
        let clear = image::RgbaImage::from_pixel(200, 200, image::Rgba([0, 0, 0, 0]));
        clear
            .write_to(&mut Cursor::new(&mut png), ImageFormat::Png)
            .unwrap();
        let rendered = render(&png).unwrap();
        let back = image::load_from_memory(&rendered.renditions[0].bytes)
            .unwrap()
            .into_rgb8();
        assert!(back
            .pixels()
            .all(|p| p[0] > 240 && p[1] > 240 && p[2] > 240));
    }
}

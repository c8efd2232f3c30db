//! Thumbnails of image attachments, made once by the attachments worker and stored like any file.
use std::io::Cursor;

/// The longest side of a thumbnail, in pixels.
pub const SIZE: u32 = 320;

/// A PNG thumbnail of an image; refuses images whose decoding would need more than 256 MB or
/// whose sides exceed 20,000 pixels (a decompression bomb).
pub fn make(bytes: &[u8]) -> Result<Vec<u8>, String> {
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(20_000);
    limits.max_image_height = Some(20_000);
    limits.max_alloc = Some(256 * 1024 * 1024);
    let mut reader = image::ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| format!("图片无法读取:{e}"))?;
    reader.limits(limits);
    let image = reader.decode().map_err(|e| format!("图片无法读取:{e}"))?;
    let thumb = image.thumbnail(SIZE, SIZE);
    let mut out = Vec::new();
    thumb
        .write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png)
        .map_err(|e| format!("缩略图无法生成:{e}"))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_large_image_becomes_a_small_png() {
        let image =
            image::RgbImage::from_fn(1200, 600, |x, _| image::Rgb([(x % 256) as u8, 90, 30]));
        let mut png = Vec::new();
        image
            .write_to(&mut Cursor::new(&mut png), image::ImageFormat::Png)
            .unwrap();
        let thumb = make(&png).unwrap();
        let decoded = image::load_from_memory(&thumb).unwrap();
        assert_eq!((decoded.width(), decoded.height()), (SIZE, SIZE / 2));
        assert!(make(b"\x89PNG\r\n\x1a\nbroken").is_err());
    }
}

//! Write the busybox test image as an OCI archive, to import with `krust image import`:
//! `cargo run -p kubelet --example busybox_image -- docker.io/library/busybox:1.36 busybox.tar`.

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let reference = args.next().unwrap_or_else(|| "docker.io/library/busybox:1.36".to_owned());
    let out = args.next().unwrap_or_else(|| "busybox.tar".to_owned());
    let image = kubelet::images::busybox::image(&reference, std::path::Path::new(kubelet::images::busybox::BUSYBOX))?;
    std::fs::write(&out, image.archive()?)?;
    println!("wrote {reference} to {out}");
    Ok(())
}

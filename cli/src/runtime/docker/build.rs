//! The docker runtime's images: pulled when missing (the broker and PostgreSQL), or built
//! from the checkout's Dockerfile with `up --build` (the project's services).

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use bollard::{
    Docker as Engine,
    query_parameters::{BuildImageOptionsBuilder, CreateImageOptionsBuilder},
};
use futures::StreamExt;

use super::{Docker, spec::image};
use crate::{runtime::Observer, stack::Service};

impl Docker {
    /// Pulls the image of `service` unless Docker has it; pull progress goes to
    /// `observer`. The project's own images are built (`build`), never pulled.
    pub(super) async fn ensure_image(
        &self,
        engine: &Engine,
        service: &Service,
        build: bool,
        observer: &mut dyn Observer,
    ) -> Result<()> {
        let image = image(service);
        if engine.inspect_image(&image).await.is_ok() {
            return Ok(());
        }
        let name = service.name.as_str();
        if service.binary.is_some() && !build {
            bail!(
                "the image {image} of {name} is not on this Docker: build the project's images \
                 with `ptrack up --runtime docker --build` (or `docker compose build`), or set \
                 PTRACK_IMAGE_{} to an image you have",
                name.to_uppercase().replace('-', "_")
            );
        }
        observer.begin(name, &format!("pulling {image}"));
        let options = CreateImageOptionsBuilder::default()
            .from_image(&image)
            .build();
        let mut pull = engine.create_image(Some(options), None, None);
        while let Some(step) = pull.next().await {
            match step {
                Ok(info) => {
                    if let Some(status) = info.status {
                        let id = info.id.map(|id| format!("{id}: ")).unwrap_or_default();
                        observer.update(name, &format!("pulling {image}: {id}{status}"));
                    }
                }
                Err(err) => {
                    observer.failed(name, "pull failed");
                    bail!(
                        "pulling {image} for {name} failed: {err}. Check the network and the \
                         image name, or set PTRACK_IMAGE_{} to an image you have",
                        name.to_uppercase().replace('-', "_")
                    );
                }
            }
        }
        Ok(())
    }

    /// `--build`: the project's images from the Dockerfile at the checkout's root, one
    /// target per service, build output shown as it comes.
    pub(super) async fn build_images(
        &self,
        engine: &Engine,
        observer: &mut dyn Observer,
    ) -> Result<()> {
        let root = find_checkout()?;
        let context = tar_context(&root)?;
        for service in self
            .context
            .stack
            .services
            .iter()
            .filter(|s| s.binary.is_some())
        {
            let name = service.name.as_str();
            let tag = image(service);
            observer.begin(name, &format!("building {tag}"));
            let options = BuildImageOptionsBuilder::default()
                .dockerfile("Dockerfile")
                .t(&tag)
                .target(name)
                .rm(true)
                .build();
            let mut build = engine.build_image(
                options,
                None,
                Some(bollard::body_full(context.clone().into())),
            );
            while let Some(step) = build.next().await {
                match step {
                    Ok(info) => {
                        if let Some(detail) = info.error_detail.and_then(|e| e.message) {
                            observer.failed(name, "build failed");
                            bail!("building {tag} failed: {detail}");
                        }
                        if let Some(line) = info.stream.as_deref().map(str::trim)
                            && !line.is_empty()
                        {
                            observer.build_output(name, line);
                        }
                    }
                    Err(err) => {
                        observer.failed(name, "build failed");
                        bail!(
                            "building {tag} failed: {err}. The Dockerfile's base images \
                             (rust:1-bookworm, debian:bookworm-slim) come from Docker Hub: check \
                             the network, or set PTRACK_IMAGE_{} to an image you have",
                            name.to_uppercase().replace('-', "_")
                        );
                    }
                }
            }
            observer.ready(name, &format!("built {tag}"));
        }
        Ok(())
    }
}

/// The checkout holding the Dockerfile: the current folder or one above it.
fn find_checkout() -> Result<PathBuf> {
    let cwd = std::env::current_dir().context("the current folder")?;
    cwd.ancestors()
        .find(|dir| dir.join("Dockerfile").is_file() && dir.join("Cargo.toml").is_file())
        .map(Path::to_path_buf)
        .with_context(|| {
            format!(
                "--build needs the ptrack checkout (its Dockerfile): no Dockerfile in {} or \
                 above it; run ptrack from the checkout",
                cwd.display()
            )
        })
}

/// The build context as a tar archive, without what .dockerignore leaves out (the
/// target folder alone is gigabytes). Made with the system `tar`.
fn tar_context(root: &Path) -> Result<Vec<u8>> {
    let mut command = std::process::Command::new("tar");
    command.arg("-C").arg(root).arg("-c");
    if let Ok(ignore) = std::fs::read_to_string(root.join(".dockerignore")) {
        for pattern in ignore.lines().map(str::trim) {
            if pattern.is_empty() || pattern.starts_with('#') {
                continue;
            }
            let pattern = pattern.trim_end_matches('/').trim_start_matches("**/");
            command.arg(format!("--exclude=./{pattern}"));
            command.arg(format!("--exclude={pattern}"));
        }
    }
    command.arg(".");
    let output = command
        .output()
        .context("running tar to pack the build context: install tar")?;
    if !output.status.success() {
        bail!(
            "packing the build context failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(output.stdout)
}

//! Fetching a missing file: each mirror in turn, streamed to a temporary file beside the
//! target with a progress bar, renamed into place only when its MD5 matches the published
//! one. An interrupted or corrupt download never leaves a file that later passes for good.

use std::fs::{self, File};
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use crate::error::{DataError, Result, io};

/// A file of a published dataset: its name, MD5 and the mirrors that serve it.
#[derive(Clone, Debug)]
pub struct Remote {
    /// The file name, the same on every mirror.
    pub name: &'static str,
    /// The published MD5, lowercase hex.
    pub md5: &'static str,
    /// Base URLs, tried in order; the file's URL is the base followed by its name.
    pub mirrors: Vec<String>,
}

/// The MD5 of a file on disk, lowercase hex.
pub fn md5_file(path: &Path) -> Result<String> {
    let mut file = File::open(path).map_err(io(path))?;
    let mut ctx = md5::Context::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf).map_err(io(path))?;
        if n == 0 {
            break;
        }
        ctx.consume(&buf[..n]);
    }
    Ok(format!("{:x}", ctx.finalize()))
}

/// Makes sure `dir/remote.name` exists, downloading it when missing (unless `offline`).
/// A file already there is left as it is: its content is checked when it is parsed.
///
/// # Errors
/// [`DataError::Offline`] when missing and offline; [`DataError::Checksum`] when what
/// arrived does not match the MD5 (it is removed); [`DataError::Download`] when no mirror
/// served the file.
pub fn ensure(dir: &Path, remote: &Remote, offline: bool) -> Result<PathBuf> {
    let path = dir.join(remote.name);
    if path.exists() {
        return Ok(path);
    }
    if offline {
        return Err(DataError::Offline { file: path });
    }
    fs::create_dir_all(dir).map_err(io(dir))?;
    let mut attempts = Vec::new();
    let mut checksum_error = None;
    for mirror in &remote.mirrors {
        let url = format!("{mirror}{}", remote.name);
        match download(&url, &path, remote.md5) {
            Ok(()) => return Ok(path),
            Err(e @ DataError::Checksum { .. }) => {
                attempts.push(format!("{url}: {e}"));
                checksum_error = Some(e);
            }
            // The mirror's own reason, already `url: why`, not wrapped again.
            Err(DataError::Download { attempts: why, .. }) => attempts.extend(why),
            Err(e) => attempts.push(format!("{url}: {e}")),
        }
    }
    Err(checksum_error.unwrap_or(DataError::Download {
        file: path,
        attempts,
    }))
}

/// Downloads `url` to `path` through `path.part`, checking length and MD5.
fn download(url: &str, path: &Path, md5: &str) -> Result<()> {
    let mut part = path.as_os_str().to_owned();
    part.push(".part");
    let part = PathBuf::from(part);
    let result =
        fetch_to(url, &part, path, md5).and_then(|()| fs::rename(&part, path).map_err(io(path)));
    if result.is_err() {
        let _ = fs::remove_file(&part);
    }
    result
}

/// Why a request failed, without the URL that ureq's message repeats.
fn refusal(e: ureq::Error) -> String {
    match e {
        ureq::Error::Status(code, response) => {
            format!("HTTP status {code} {}", response.status_text())
        }
        ureq::Error::Transport(t) => match t.message() {
            Some(message) => format!("{}: {message}", t.kind()),
            None => t.kind().to_string(),
        },
    }
}

/// A progress bar for the download of `path`, of `length` bytes when known.
fn progress(length: Option<u64>, path: &Path) -> ProgressBar {
    let bar = match length {
        Some(n) => ProgressBar::new(n),
        None => ProgressBar::new_spinner(),
    };
    bar.set_style(
        ProgressStyle::with_template(
            "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar.set_message(format!(
        "downloading {}",
        path.file_name().unwrap_or_default().to_string_lossy()
    ));
    bar
}

fn fetch_to(url: &str, part: &Path, path: &Path, md5: &str) -> Result<()> {
    let failed = |what: String| DataError::Download {
        file: path.to_path_buf(),
        attempts: vec![format!("{url}: {what}")],
    };
    let agent = ureq::AgentBuilder::new()
        .timeout_connect(Duration::from_secs(30))
        .timeout_read(Duration::from_secs(60))
        .build();
    let response = agent.get(url).call().map_err(|e| failed(refusal(e)))?;
    let length: Option<u64> = response
        .header("Content-Length")
        .and_then(|l| l.parse().ok());
    let bar = progress(length, path);
    let mut reader = response.into_reader();
    let mut out = BufWriter::new(File::create(part).map_err(io(part))?);
    let mut ctx = md5::Context::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut received = 0u64;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                bar.abandon();
                return Err(failed(format!(
                    "the transfer broke off after {received} bytes: {e}"
                )));
            }
        };
        ctx.consume(&buf[..n]);
        out.write_all(&buf[..n]).map_err(io(part))?;
        received += n as u64;
        bar.set_position(received);
    }
    out.flush().map_err(io(part))?;
    bar.finish_and_clear();
    if let Some(expected) = length.filter(|&l| l != received) {
        return Err(failed(format!(
            "the transfer broke off after {received} of {expected} bytes"
        )));
    }
    let found = format!("{:x}", ctx.finalize());
    if found != md5 {
        return Err(DataError::Checksum {
            file: path.to_path_buf(),
            expected: md5.to_string(),
            found,
        });
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::io::BufRead;
    use std::net::TcpListener;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// How the local test server answers.
    #[derive(Clone)]
    pub enum Reply {
        /// 200 with this body.
        Ok(Vec<u8>),
        /// This status and no body.
        Status(u16),
        /// 200 announcing `announced` bytes, sending `body`, then closing.
        Cut { body: Vec<u8>, announced: usize },
    }

    /// A server on 127.0.0.1 answering every request with `reply`, for `requests`
    /// requests at most; returns its base URL and a request counter.
    pub fn serve(reply: Reply, requests: usize) -> (String, Arc<AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}/", listener.local_addr().unwrap());
        let count = Arc::new(AtomicUsize::new(0));
        let counter = count.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().take(requests) {
                let Ok(mut stream) = stream else { continue };
                counter.fetch_add(1, Ordering::SeqCst);
                let mut reader = std::io::BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                    line.clear();
                }
                let (status, body, announced) = match &reply {
                    Reply::Ok(body) => (200, body.clone(), body.len()),
                    Reply::Status(code) => (*code, Vec::new(), 0),
                    Reply::Cut { body, announced } => (200, body.clone(), *announced),
                };
                let head = format!(
                    "HTTP/1.1 {status} X\r\nContent-Length: {announced}\r\nConnection: close\r\n\r\n"
                );
                let _ = stream.write_all(head.as_bytes());
                let _ = stream.write_all(&body);
            }
        });
        (base, count)
    }

    fn remote(name: &'static str, body: &[u8], mirrors: Vec<String>) -> Remote {
        Remote {
            name,
            md5: Box::leak(format!("{:x}", md5::compute(body)).into_boxed_str()),
            mirrors,
        }
    }

    fn tempdir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("kiln-download-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    fn files(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .map(|d| {
                d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }

    #[test]
    fn downloads_verifies_and_renames() {
        let body = b"the real bytes".to_vec();
        let (base, _) = serve(Reply::Ok(body.clone()), 1);
        let dir = tempdir("ok");
        let path = ensure(&dir, &remote("data.bin", &body, vec![base]), false).unwrap();
        assert_eq!(fs::read(&path).unwrap(), body);
        assert_eq!(files(&dir), ["data.bin"]);
        assert_eq!(
            md5_file(&path).unwrap(),
            format!("{:x}", md5::compute(&body))
        );
    }

    #[test]
    fn a_checksum_mismatch_is_refused_and_removed() {
        let (base, _) = serve(Reply::Ok(b"tampered".to_vec()), 1);
        let dir = tempdir("checksum");
        let err = ensure(&dir, &remote("data.bin", b"genuine", vec![base]), false).unwrap_err();
        assert!(matches!(err, DataError::Checksum { .. }), "{err}");
        assert!(
            err.to_string().contains("does not match its published MD5"),
            "{err}"
        );
        assert_eq!(files(&dir), Vec::<String>::new());
    }

    #[test]
    fn a_server_error_tries_the_next_mirror() {
        let body = b"from the fallback".to_vec();
        let (broken, hits) = serve(Reply::Status(500), 1);
        let (fallback, _) = serve(Reply::Ok(body.clone()), 1);
        let dir = tempdir("fallback");
        let path = ensure(
            &dir,
            &remote("data.bin", &body, vec![broken, fallback]),
            false,
        )
        .unwrap();
        assert_eq!(fs::read(path).unwrap(), body);
        assert_eq!(hits.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn a_server_error_everywhere_names_each_mirror() {
        let (base, _) = serve(Reply::Status(500), 1);
        let dir = tempdir("status");
        let err = ensure(&dir, &remote("data.bin", b"x", vec![base.clone()]), false).unwrap_err();
        let message = err.to_string();
        assert!(message.contains(&format!("{base}data.bin")), "{message}");
        assert!(message.contains("500"), "{message}");
        assert!(
            message.contains("data.bin is missing and could not be downloaded"),
            "{message}"
        );
        // One sentence, the mirror named once with its reason.
        assert_eq!(
            message.matches("could not be downloaded").count(),
            1,
            "{message}"
        );
        assert_eq!(
            message.matches(&format!("{base}data.bin")).count(),
            1,
            "{message}"
        );
        assert!(
            message.contains(&format!("{base}data.bin: HTTP status 500")),
            "{message}"
        );
        assert_eq!(files(&dir), Vec::<String>::new());
    }

    #[test]
    fn an_interrupted_body_leaves_nothing_behind() {
        let body = b"only the first half".to_vec();
        let (base, _) = serve(
            Reply::Cut {
                body: body.clone(),
                announced: 1000,
            },
            1,
        );
        let dir = tempdir("cut");
        let err = ensure(&dir, &remote("data.bin", &body, vec![base]), false).unwrap_err();
        assert!(err.to_string().contains("broke off"), "{err}");
        assert_eq!(files(&dir), Vec::<String>::new());
    }

    #[test]
    fn offline_and_unreachable_are_errors_naming_the_file() {
        let dir = tempdir("offline");
        let err = ensure(
            &dir,
            &remote("data.bin", b"x", vec!["http://127.0.0.1:9/".into()]),
            true,
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("data.bin is missing and downloads are off"),
            "{err}"
        );
        let err = ensure(
            &dir,
            &remote("data.bin", b"x", vec!["http://127.0.0.1:9/".into()]),
            false,
        )
        .unwrap_err();
        assert!(err.to_string().contains("could not be downloaded"), "{err}");
    }
}

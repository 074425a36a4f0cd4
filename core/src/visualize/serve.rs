//! The live report, as Quiver served it: a small HTTP server on 127.0.0.1 where an image
//! dropped on the page is added to the report, computed on demand.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};

use burn::tensor::Tensor;
use burn::tensor::backend::AutodiffBackend;

use super::{Picture, Report, Visualize};
use crate::error::TrainError;
use crate::model::Model;

/// The largest image upload taken, in bytes.
const MOST_UPLOAD: usize = 16 << 20;

/// The most a request's line and headers may take, in bytes.
const MOST_HEAD: u64 = 64 << 10;

/// A live report server bound to a local port.
pub struct Server {
    listener: TcpListener,
}

impl Server {
    /// Binds `127.0.0.1:port` (`0`: a free port).
    ///
    /// # Errors
    /// When the port cannot be bound.
    pub fn bind(port: u16) -> Result<Self, TrainError> {
        let listener = TcpListener::bind(("127.0.0.1", port))
            .map_err(|e| TrainError::Setting(format!("cannot serve on 127.0.0.1:{port}: {e}")))?;
        Ok(Server { listener })
    }

    /// The address it listens on.
    ///
    /// # Errors
    /// When the socket cannot tell.
    pub fn addr(&self) -> Result<SocketAddr, TrainError> {
        self.listener
            .local_addr()
            .map_err(|e| TrainError::Setting(e.to_string()))
    }

    /// Serves the report of `model` on `pictures` (the page at `/`, its images under
    /// `/img/`), adding each image POSTed to `/upload` (PNG or JPEG, fitted to the model's
    /// input) to the pictures. Runs until the process ends; one request at a time.
    ///
    /// # Errors
    /// When the first report cannot be made (as [`Visualize::render`]).
    pub fn run<B, M>(
        self,
        settings: &Visualize,
        model: &M,
        mut pictures: Vec<Picture>,
    ) -> Result<(), TrainError>
    where
        B: AutodiffBackend,
        M: Model<B, Output = Tensor<B, 2>>,
    {
        let settings = &Visualize {
            live: true,
            ..settings.clone()
        };
        let mut report = settings.render(model, &pictures)?;
        for stream in self.listener.incoming().flatten() {
            let answer = match request(&stream) {
                Ok((method, path, body)) => match (method.as_str(), path.as_str()) {
                    ("POST", "/upload") => {
                        upload(settings, model, &mut pictures, &mut report, &body)
                    }
                    ("GET", path) => get(&report, path),
                    _ => Answer::error(405, "only GET and POST /upload"),
                },
                Err(answer) => answer,
            };
            // A client gone away takes its answer with it; the server goes on.
            let _ = answer.send(stream);
        }
        Ok(())
    }
}

/// Adds the uploaded image and makes the report again.
fn upload<B, M>(
    settings: &Visualize,
    model: &M,
    pictures: &mut Vec<Picture>,
    report: &mut Report,
    body: &[u8],
) -> Answer
where
    B: AutodiffBackend,
    M: Model<B, Output = Tensor<B, 2>>,
{
    let shape: Vec<usize> = model
        .input_shape()
        .dims()
        .iter()
        .filter_map(|d| d.known())
        .collect();
    let name = format!("upload {}", pictures.len() + 1);
    let picture = match Picture::decode(&name, body, &shape) {
        Ok(p) => p,
        Err(e) => return Answer::error(400, &e.to_string()),
    };
    pictures.push(picture);
    match settings.render(model, pictures) {
        Ok(made) => {
            *report = made;
            let index = pictures.len() - 1;
            Answer::new(
                200,
                "application/json",
                format!(r#"{{"image":{index}}}"#).into_bytes(),
            )
        }
        Err(e) => {
            pictures.pop();
            Answer::error(400, &e.to_string())
        }
    }
}

fn get(report: &Report, path: &str) -> Answer {
    let path = path.split(['?', '#']).next().unwrap_or(path);
    let name = match path {
        "/" => "index.html",
        other => other.trim_start_matches('/'),
    };
    match report.file(name) {
        Some(bytes) if name.ends_with(".png") => Answer::new(200, "image/png", bytes.to_vec()),
        Some(bytes) => Answer::new(200, "text/html; charset=utf-8", bytes.to_vec()),
        None => Answer::error(404, &format!("no {name} in this report")),
    }
}

/// An HTTP answer.
struct Answer {
    status: u16,
    kind: &'static str,
    body: Vec<u8>,
}

impl Answer {
    fn new(status: u16, kind: &'static str, body: Vec<u8>) -> Self {
        Answer { status, kind, body }
    }

    fn error(status: u16, text: &str) -> Self {
        Answer::new(
            status,
            "text/plain; charset=utf-8",
            text.as_bytes().to_vec(),
        )
    }

    fn send(self, mut stream: TcpStream) -> std::io::Result<()> {
        let reason = match self.status {
            200 => "OK",
            404 => "Not Found",
            405 => "Method Not Allowed",
            413 => "Content Too Large",
            _ => "Bad Request",
        };
        write!(
            stream,
            "HTTP/1.1 {} {reason}\r\nContent-Type: {}\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n",
            self.status,
            self.kind,
            self.body.len()
        )?;
        stream.write_all(&self.body)?;
        stream.flush()
    }
}

/// The method, path and body of one request.
fn request(stream: &TcpStream) -> Result<(String, String, Vec<u8>), Answer> {
    let bad = |e: std::io::Error| Answer::error(400, &format!("cannot read the request: {e}"));
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .map_err(bad)?;
    let mut reader = BufReader::new(stream.take(MOST_HEAD));
    let mut line = String::new();
    reader.read_line(&mut line).map_err(bad)?;
    if !line.ends_with('\n') {
        return Err(Answer::error(400, "a request line over 64 KiB, or none"));
    }
    let mut words = line.split_whitespace();
    let (Some(method), Some(path)) = (words.next(), words.next()) else {
        return Err(Answer::error(400, "not an HTTP request"));
    };
    let mut length = 0usize;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).map_err(bad)? == 0 || header.trim().is_empty() {
            break;
        }
        if !header.ends_with('\n') {
            return Err(Answer::error(400, "request headers over 64 KiB"));
        }
        if let Some((name, value)) = header.split_once(':')
            && name.trim().eq_ignore_ascii_case("content-length")
        {
            length = value
                .trim()
                .parse()
                .map_err(|_| Answer::error(400, "a Content-Length that is not a number"))?;
        }
    }
    if length > MOST_UPLOAD {
        return Err(Answer::error(413, "an upload of more than 16 MiB"));
    }
    // The body: what the reader holds already, then the rest of Content-Length.
    let held = reader.buffer().len();
    reader
        .get_mut()
        .set_limit(length.saturating_sub(held) as u64);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).map_err(bad)?;
    Ok((method.to_owned(), path.to_owned(), body))
}

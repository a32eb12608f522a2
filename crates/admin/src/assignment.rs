//! The consumer protocol's assignment bytes (ConsumerProtocolAssignment): version i16, then an array of
//! (topic string, partitions i32 array), then user data. Only what `group describe` shows is read.

fn i16_at(b: &[u8], at: usize) -> Option<i16> {
    b.get(at..at + 2).map(|x| i16::from_be_bytes([x[0], x[1]]))
}

fn i32_at(b: &[u8], at: usize) -> Option<i32> {
    b.get(at..at + 4).map(|x| i32::from_be_bytes([x[0], x[1], x[2], x[3]]))
}

/// (topic, partitions) pairs; malformed input yields what could be read.
pub fn parse(b: &[u8]) -> Vec<(String, Vec<i32>)> {
    let mut out = Vec::new();
    let Some(topics) = i32_at(b, 2) else { return out };
    let mut at = 6;
    for _ in 0..topics.clamp(0, 100_000) {
        let Some(len) = i16_at(b, at).and_then(|l| usize::try_from(l).ok()) else { break };
        let Some(name) = b.get(at + 2..at + 2 + len) else { break };
        at += 2 + len;
        let Some(count) = i32_at(b, at) else { break };
        at += 4;
        let mut partitions = Vec::new();
        for _ in 0..count.clamp(0, 1_000_000) {
            let Some(p) = i32_at(b, at) else { break };
            partitions.push(p);
            at += 4;
        }
        out.push((String::from_utf8_lossy(name).into_owned(), partitions));
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn parses_an_assignment_and_survives_garbage() {
        let mut b = vec![0, 1, 0, 0, 0, 1, 0, 2, b'o', b'k', 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 5];
        b.extend_from_slice(&[0xff, 0xff, 0xff, 0xff]);
        assert_eq!(super::parse(&b), vec![("ok".to_string(), vec![3, 5])]);
        assert!(super::parse(&[0, 0, 0x7f, 0xff, 0xff, 0xff, 1]).is_empty());
        assert!(super::parse(&[]).is_empty());
    }
}

//! Networks: bridges, veth endpoints, IPAM, port publishing and the embedded DNS server.
//! Uses nothing of Berth's other crates.

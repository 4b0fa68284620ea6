import Foundation
import Testing
import Archive
import FlowTestSupport

@Suite struct ArchiveTests {
    let dir = TemporaryDirectory("archive")

    func entries(_ path: String) throws -> [(EntryHeader, [UInt8])] {
        let reader = try ArchiveReader(path: path)
        var out: [(EntryHeader, [UInt8])] = []
        while let header = try reader.nextHeader() { out.append((header, try reader.readData())) }
        return out
    }

    func writeSample(_ path: String, filter: ArchiveWriter.Filter = .none) throws {
        let writer = try ArchiveWriter(path: path, filter: filter)
        try writer.write(EntryHeader(pathname: "a.txt", size: 5, permissions: 0o444, modificationTime: 946_684_800,
                                     userName: "bigdata", groupName: "bigdata"), data: Array("hello".utf8))
        let big = (0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        try writer.write(EntryHeader(pathname: "dir/b.bin", size: Int64(big.count)), data: big)
        try writer.write(EntryHeader(pathname: "empty", size: 0), data: [])
        try writer.close()
        try writer.close()  // idempotent
    }

    @Test func roundTripUstar() throws {
        let path = dir.path + "/x.tar"
        try writeSample(path)
        let got = try entries(path)
        #expect(got.map(\.0.pathname) == ["a.txt", "dir/b.bin", "empty"])
        #expect(got[0].1 == Array("hello".utf8))
        #expect(got[0].0.permissions == 0o444 && got[0].0.modificationTime == 946_684_800)
        #expect(got[0].0.userName == "bigdata" && got[0].0.type == .regular)
        #expect(got[1].1.count == 100_000 && got[1].1[99_999] == UInt8(truncatingIfNeeded: 99_999 &* 31))
        #expect(got[2].1.isEmpty)
        // ustar: 3 headers + 1 + 196 data blocks + 2 end blocks; no record padding for a regular file.
        let size = try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int
        #expect(size == 202 * 512)
    }

    @Test func roundTripLZ4() throws {
        let path = dir.path + "/x.tar.lz4"
        try writeSample(path, filter: .lz4())
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        #expect(Array(bytes.prefix(4)) == [0x04, 0x22, 0x4D, 0x18])
        let reader = try ArchiveReader(path: path)
        #expect(try reader.nextHeader()?.pathname == "a.txt")
        #expect(reader.filterName == "lz4")
        #expect(try entries(path).map(\.1.count) == [5, 100_000, 0])
    }

    @Test func missingFileCarriesErrno() throws {
        do {
            _ = try ArchiveReader(path: dir.path + "/nope.tar")
            Issue.record("expected an error")
        } catch let error as ArchiveError {
            #expect(error.code == ENOENT)
            #expect(error.isFatal)
        }
    }

    @Test func sizeMismatchIsRejected() throws {
        let writer = try ArchiveWriter(path: dir.path + "/y.tar")
        #expect(throws: ArchiveError.self) {
            try writer.write(EntryHeader(pathname: "a", size: 3), data: [1, 2])
        }
    }

    @Test func tooLongNameIsRejected() throws {
        let writer = try ArchiveWriter(path: dir.path + "/z.tar")
        let name = String(repeating: "n", count: 300)
        #expect(throws: ArchiveError.self) {
            try writer.write(EntryHeader(pathname: name, size: 0), data: [])
        }
    }

    @Test func truncatedDataIsAnError() throws {
        let path = dir.path + "/t.tar"
        try writeSample(path)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        try bytes.prefix(512 + 512 + 512 + 40_000).write(to: URL(fileURLWithPath: path))
        let reader = try ArchiveReader(path: path)
        _ = try reader.nextHeader(); _ = try reader.readData()
        let header = try reader.nextHeader()
        #expect(header?.pathname == "dir/b.bin")
        #expect(reader.headerOffset == 1024)
        #expect(throws: ArchiveError.self) { _ = try reader.readData() }
    }

    @Test func symlinkAndTypesAreReported() throws {
        let path = dir.path + "/l.tar"
        let writer = try ArchiveWriter(path: path)
        try writer.write(EntryHeader(pathname: "link", size: 0, type: .symbolicLink, symlinkTarget: "/etc/passwd"), data: [])
        try writer.write(EntryHeader(pathname: "d/", size: 0, type: .directory, permissions: 0o755), data: [])
        try writer.close()
        let got = try entries(path)
        #expect(got[0].0.type == .symbolicLink && got[0].0.symlinkTarget == "/etc/passwd")
        #expect(got[1].0.type == .directory)
    }

    @Test func utf8NamesSurvive() throws {
        let path = dir.path + "/u.tar"
        let writer = try ArchiveWriter(path: path)
        try writer.write(EntryHeader(pathname: "café_ß.txt", size: 1), data: [65])
        try writer.close()
        let name = try entries(path).first?.0.pathname
        #expect(name == "café_ß.txt")
    }
}

import Foundation
import Testing
import FlowTestSupport
@testable import FlowFormats

/// Empty inputs, including buffers with no address at all, are handled, not crashed on.
@Suite struct EmptyInputTests {
    @Test func emptyFileMapsAndCopies() throws {
        let dir = TemporaryDirectory()
        try dir.write("empty", "")
        let file = try MappedFile(path: dir.path + "/empty")
        #expect(file.withBytes { $0.count } == 0)
        #expect(try file.copyBytes(0..<0) == [])
    }

    @Test func writingNoBytesGivesAnEmptyFile() throws {
        let dir = TemporaryDirectory()
        let out = try AtomicOutputFile(path: dir.path + "/a.bin")
        let nothing = UnsafeRawBufferPointer(start: nil, count: 0)
        try out.write(nothing)
        try out.write(nothing, at: 0)
        try out.commit()
        #expect(try dir.readData("a.bin").isEmpty)
    }

    @Test func imagesWithoutChannels() {
        let none = ImageTensor(channels: 0, height: 4, width: 4)
        #expect(Resize.bilinear(none, height: 2, width: 2).data.isEmpty)
        var blurred = none
        Augment.gaussianBlur(&blurred, sigma: 1)
        #expect(blurred == none)
    }
}

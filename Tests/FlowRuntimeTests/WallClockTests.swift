import Foundation
import FlowRuntime
import Testing

/// The timestamp of log lines, made without a `DateFormatter`, must read as one would make it.
@Suite struct WallClockTests {
    @Test func matchesAFormatterOfTheSamePattern() {
        let formatter = DateFormatter()
        formatter.dateFormat = "HH:mm:ss"
        let times: [TimeInterval] = [0, 59.999, 3_600 * 13 + 61, 1_765_100_000.5, 1_765_143_599]
        for seconds in times {
            let date = Date(timeIntervalSince1970: seconds)
            #expect(WallClock.time(date) == formatter.string(from: date), "\(seconds)")
        }
    }
}

import FlowCore

extension Evaluator {
    /// What `evaluateAll` found, by step: an array indexed by `StepID`, holding nothing for the
    /// steps that were not evaluated. A dictionary hashed every id twice, which was a tenth of the
    /// evaluation of a million steps.
    public struct Evaluations: Sequence {
        private var slots: [Evaluation?]

        init(stepCount: Int) { slots = Array(repeating: nil, count: stepCount) }

        public subscript(id: StepID) -> Evaluation? {
            get { id.index < slots.count ? slots[id.index] : nil }
            set { slots[id.index] = newValue }
        }

        /// The evaluations made, in the order of the steps' ids.
        public var values: [Evaluation] { slots.compactMap { $0 } }

        public func makeIterator() -> Iterator { Iterator(slots: slots) }

        /// Each evaluated step's id with its evaluation, in the order of the ids.
        public struct Iterator: IteratorProtocol {
            let slots: [Evaluation?]
            var position = 0

            public mutating func next() -> (key: StepID, value: Evaluation)? {
                while position < slots.count {
                    defer { position += 1 }
                    if let e = slots[position] { return (StepID(rawValue: Int32(position)), e) }
                }
                return nil
            }
        }
    }
}

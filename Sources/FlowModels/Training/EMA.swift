/// The teacher's exponential moving average of the student, applied after each optimizer step
/// (dinov2 `update_teacher`): teacher ← m·teacher + (1 − m)·student, tensor by tensor by name.
public enum EMA {
    /// - Throws: `ModelError` when a teacher tensor has no student tensor of the same name and size.
    public static func update<T: ParameterSet, S: ParameterSet>(teacher: inout T, student: S, momentum: Float) throws {
        let s = student.parameterValues()
        let m = momentum, rest = 1 - momentum
        try teacher.forEachParameter { name, values, _ in
            guard let src = s[name], src.count == values.count else {
                throw ModelError("EMA: the student has no tensor '\(name)' of \(values.count) values")
            }
            for i in values.indices { values[i] = m * values[i] + rest * src[i] }
        }
    }
}

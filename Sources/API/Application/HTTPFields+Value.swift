import HTTPTypes

extension HTTPFields {
    /// The field's value, as `self[name]` gives it, without its cost in the usual case: the
    /// subscript joins the values of every field of that name into a new string even when there
    /// is one, and the bearer token is read on every request. A repeated field still comes back joined.
    func value(_ name: HTTPField.Name) -> String? {
        guard let first = firstIndex(where: { $0.name == name }) else { return nil }
        guard self[index(after: first)...].contains(where: { $0.name == name }) else { return self[first].value }
        return self[name]
    }
}

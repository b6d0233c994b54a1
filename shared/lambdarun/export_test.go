package lambdarun

// AsciiSubjectForTest exposes asciiSubject.
var AsciiSubjectForTest = asciiSubject

package lambdafn

// AsciiSubjectForTest exposes asciiSubject.
var AsciiSubjectForTest = asciiSubject

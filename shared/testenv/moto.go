package testenv

import (
	"bufio"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"syscall"
	"testing"
	"time"
)

// Moto starts moto_server on loopback for this test and returns its URL.
// Without it the test skips, unless CI is set: then it fails.
func Moto(t testing.TB) string {
	t.Helper()
	bin, err := exec.LookPath("moto_server")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("moto_server is not installed")
		}
		t.Skip("moto_server is not installed")
	}
	return StartMoto(t, exec.Command(bin), nil)
}

var motoListening = regexp.MustCompile(`Running on (http://127\.0\.0\.1:\d+)`)

// StartMoto starts cmd, a moto server taking moto_server's flags, on
// 127.0.0.1 port 0 and returns the URL it reports listening on. The port is
// the one the server itself bound, never one picked beforehand: a port
// picked, released and then bound can meanwhile go to another emulator,
// whose answers the readiness check would take for this one's. The server
// is killed (with its process group) when the test ends; its output goes
// to log, when not nil, after the listening line.
func StartMoto(t testing.TB, cmd *exec.Cmd, log io.Writer) string {
	t.Helper()
	cmd.Args = append(cmd.Args, "-H", "127.0.0.1", "-p", "0")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() {
		cmd.Wait() // copies the last output into pw
		pw.Close()
		close(exited)
	}()
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-exited
	})
	type listening struct {
		url  string
		head []byte // the output before, when it never says
	}
	found := make(chan listening, 1)
	go func() {
		r := bufio.NewReader(pr)
		var head []byte
		for {
			line, err := r.ReadBytes('\n')
			if m := motoListening.FindSubmatch(line); m != nil {
				found <- listening{url: string(m[1])}
				break
			}
			head = append(head, line...)
			if err != nil {
				found <- listening{head: head}
				return
			}
		}
		if log == nil {
			log = io.Discard
		}
		io.Copy(log, r) // drained, so that the server never blocks on a full pipe
	}()
	var url string
	select {
	case l := <-found:
		if l.url == "" {
			t.Fatalf("moto_server exited without listening: %s", l.head)
		}
		url = l.url
	case <-time.After(60 * time.Second):
		t.Fatal("moto_server did not say where it listens within 60 s")
	}
	for i := 0; ; i++ {
		res, err := http.Get(url + "/moto-api/")
		if err == nil {
			res.Body.Close()
			return url
		}
		if i > 150 {
			t.Fatalf("moto_server did not answer on %s: %v", url, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

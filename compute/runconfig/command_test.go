package runconfig

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestSplitCommand(t *testing.T) {
	tests := []struct {
		cmd     string
		want    []string
		wantErr string
	}{
		{"python train.py --lr 0.1", []string{"python", "train.py", "--lr", "0.1"}, ""},
		{"  python\ttrain.py \n --x ${{search_space.x}}\n", []string{"python", "train.py", "--x", "${{search_space.x}}"}, ""},
		{"python t.py --lr=${{ search_space.lr }} --y ${{search_space.y}}", []string{"python", "t.py", "--lr=${{ search_space.lr }}", "--y", "${{search_space.y}}"}, ""},
		{`python t.py --name 'a b' --q "say \"hi\" \$HOME" x\ y`, []string{"python", "t.py", "--name", "a b", "--q", `say "hi" $HOME`, "x y"}, ""},
		{"python t.py \\\n  --x 1", []string{"python", "t.py", "--x", "1"}, ""},
		{"python t.py ''", []string{"python", "t.py", ""}, ""},
		{"python t.py --data ${{inputs.data}}/file.csv", []string{"python", "t.py", "--data", "${{inputs.data}}/file.csv"}, ""},
		{"", nil, ""},
		{"python t.py | tee log", nil, "runs as an argv, not through a shell"},
		{"python t.py > out", nil, "not through a shell"},
		{"python t.py && echo", nil, "not through a shell"},
		{"python t.py $(date)", nil, "not through a shell"},
		{"python t.py 'open", nil, "unclosed ' quote"},
		{`python t.py "open`, nil, `unclosed " quote`},
		{"python t.py ${{inputs.x", nil, "unclosed ${{"},
	}
	for _, tc := range tests {
		t.Run(tc.cmd, func(t *testing.T) {
			got, err := SplitCommand(tc.cmd)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
	if _, err := SplitCommand("a ; b"); !errors.Is(err, ErrShell) {
		t.Errorf("not ErrShell: %v", err)
	}
}

func TestScriptCommand(t *testing.T) {
	inputs := map[string]JobInput{"lr": {Literal: true, Value: "0.1"}, "data": {Type: "uri_folder", Path: "./data"}, "epochs": {Type: "integer", Value: "3"}}
	outputs := map[string]JobOutput{"model": {Type: "uri_folder"}}
	tests := []struct {
		cmd        string
		script     string
		args       []string
		wantErrSub string
	}{
		{"python train.py", "train.py", []string{}, ""},
		{"python3 -u src/train.py --lr ${{inputs.lr}} --data ${{inputs.data}} --epochs ${{inputs.epochs}}", "src/train.py",
			[]string{"--lr", "0.1", "--data", "./data", "--epochs", "3"}, ""},
		{"/usr/bin/python3.11 t.py --out ${{outputs.model}} --x ${{search_space.x}}", "t.py", []string{"--out", "outputs/model", "--x", "${{search_space.x}}"}, ""},
		{"train.py --a 1", "train.py", []string{"--a", "1"}, ""},
		{"python -W ignore t.py", "t.py", []string{}, ""},
		{"bash run.sh", "", nil, "must be python SCRIPT"},
		{"python -m pkg.train", "", nil, "python -m is not supported"},
		{"python -u", "", nil, "names no script"},
		{"python t.py ${{inputs.nope}}", "", nil, "${{inputs.nope}} names no input"},
		{"python t.py ${{outputs.nope}}", "", nil, "names no output"},
		{"python t.py ${{jobs.x}}", "", nil, "unknown expression"},
		{"", "", nil, "the command is empty"},
	}
	for _, tc := range tests {
		t.Run(tc.cmd, func(t *testing.T) {
			script, args, err := ScriptCommand(tc.cmd, inputs, outputs)
			if tc.wantErrSub != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErrSub) {
					t.Fatalf("err %v, want %q", err, tc.wantErrSub)
				}
				return
			}
			if err != nil || script != tc.script || !reflect.DeepEqual(args, tc.args) {
				t.Fatalf("got %q %q %v; want %q %q", script, args, err, tc.script, tc.args)
			}
		})
	}
}

// FuzzSplitCommand: splitting never panics, and what splits without a
// shell operator splits the same when its words are re-quoted.
func FuzzSplitCommand(f *testing.F) {
	for _, s := range []string{"python train.py --lr ${{search_space.lr}}", `python t.py 'a b' "c \"d\"" e\ f`, "a\\\nb", "${{", "'", `"\`, "${{}}x${{a}}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, cmd string) {
		words, err := SplitCommand(cmd)
		if err != nil {
			return
		}
		var b strings.Builder
		for _, w := range words {
			if strings.Contains(w, "${{") {
				return // placeholders are kept verbatim, not re-quotable
			}
			b.WriteString("'" + strings.ReplaceAll(w, "'", `'\''`) + "' ")
		}
		again, err := SplitCommand(b.String())
		if err != nil {
			t.Fatalf("re-quoted %q: %v", b.String(), err)
		}
		if len(again) != len(words) || (len(words) > 0 && !reflect.DeepEqual(again, words)) {
			t.Fatalf("%q → %q → %q", cmd, words, again)
		}
		_, _, _ = ScriptCommand(cmd, nil, nil)
	})
}

func TestSplitArguments(t *testing.T) {
	tests := []struct {
		in      string
		want    []string
		wantErr string
	}{
		{in: "", want: []string{}},
		{in: "--lr 0.3 --epochs 3", want: []string{"--lr", "0.3", "--epochs", "3"}},
		{in: `--name "a b" --tag it\'s`, want: []string{"--name", "a b", "--tag", "it's"}},
		{in: "--lr\n0.3\n\n--name\na b\n", want: []string{"--lr", "0.3", "--name", "a b"}},
		{in: "--lr 0.3 | tee x", wantErr: `"|" at character 10: the command runs as an argv, not through a shell`},
		{in: "--lr 0.3 && rm x", wantErr: `"&&" at character 10`},
		{in: "--home $HOME", wantErr: "a variable"},
		{in: `--name "open`, wantErr: `unclosed " quote`},
	}
	for _, tt := range tests {
		got, err := SplitArguments(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("SplitArguments(%q) error %v, want %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("SplitArguments(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

// FuzzJoinArguments: any argument list survives being written as a command
// line and read back.
func FuzzJoinArguments(f *testing.F) {
	f.Add("--lr", "a b", `it's "x"`)
	f.Add("", "$HOME", "`x`\\")
	f.Fuzz(func(t *testing.T, a, b, c string) {
		args := []string{a, b, c}
		for _, s := range args {
			if strings.ContainsAny(s, "\x00") || !utf8.ValidString(s) {
				return
			}
		}
		line := JoinArguments(args)
		if strings.Contains(line, "\n") {
			return // a newline inside an argument makes the box several lines
		}
		got, err := SplitArguments(line)
		if err != nil || !reflect.DeepEqual(got, args) {
			t.Fatalf("%q → %q → %q, %v", args, line, got, err)
		}
	})
}

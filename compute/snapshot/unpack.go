package snapshot

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"
)

// Archive formats Unpack reads.
const (
	FormatZip   = "zip"
	FormatTarGz = "tar.gz"
	FormatTar   = "tar"
)

// ErrArchive marks an archive that cannot be read (corrupt, unknown
// format); errors.Is finds it in Unpack's errors.
var ErrArchive = errors.New("not a readable .zip or .tar.gz archive")

// maxSymlinkHops bounds how many links Unpack follows for one path.
const maxSymlinkHops = 40

// memFileBytes is the size up to which Unpack hashes a file in memory;
// larger ones are spooled to a temporary file.
const memFileBytes = 1 << 20

// NormalizeFormat maps a format name or Content-Type to FormatZip,
// FormatTarGz or FormatTar; "" means unknown (Unpack then sniffs).
func NormalizeFormat(format string) string {
	f := strings.ToLower(strings.TrimSpace(format))
	if i := strings.IndexByte(f, ';'); i >= 0 {
		f = strings.TrimSpace(f[:i])
	}
	f = strings.TrimPrefix(f, ".")
	switch f {
	case "zip", "application/zip", "application/x-zip-compressed":
		return FormatZip
	case "tar.gz", "tgz", "gz", "gzip", "application/gzip", "application/x-gzip", "application/x-tar+gzip", "application/x-compressed-tar":
		return FormatTarGz
	case "tar", "application/x-tar":
		return FormatTar
	}
	return ""
}

// Unpack reads a .zip, .tar.gz or .tar archive from r and returns the
// manifest of the snapshot it holds, calling put once for each distinct
// blob (its SHA-256 and content) of the files it keeps. format is a name
// or Content-Type (see NormalizeFormat); unknown formats are sniffed.
//
// It honours .amlignore, else .gitignore, in every folder of the archive,
// skips .git, and rejects the whole archive (a *PathError) when an entry is
// absolute, contains "..", or is a link that leaves the tree. A link to a
// file inside the tree becomes a copy of that file; links to folders and
// special files are skipped. Over the limits it returns a *LimitError; the
// bytes are counted as they are decompressed, never taken from headers. A
// corrupt archive gives an error wrapping ErrArchive.
func Unpack(ctx context.Context, r io.Reader, format string, limits Limits, put func(sha string, r io.Reader) error) (*Manifest, error) {
	limits = limits.withDefaults()
	spool, err := os.CreateTemp(limits.TempDir, "trainyard-archive-*")
	if err != nil {
		return nil, err
	}
	defer func() {
		spool.Close()
		os.Remove(spool.Name())
	}()
	n, err := io.Copy(spool, io.LimitReader(ctxReader{ctx, r}, limits.MaxArchiveBytes+1))
	if err != nil {
		return nil, err
	}
	if n > limits.MaxArchiveBytes {
		return nil, &LimitError{Dir: "the archive", Bytes: n, Limits: limits}
	}
	f := NormalizeFormat(format)
	if f == "" {
		f = sniff(spool)
	}
	u := &unpacker{ctx: ctx, limits: limits, put: put, spool: spool, size: n, put2: map[string]bool{}}
	switch f {
	case FormatZip:
		err = u.zip()
	case FormatTarGz, FormatTar:
		err = u.tar(f == FormatTarGz)
	default:
		return nil, fmt.Errorf("%w: unknown format %q", ErrArchive, format)
	}
	if err != nil {
		return nil, err
	}
	return u.manifest()
}

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

// Read fails once the context is done.
func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

func sniff(f *os.File) string {
	var head [4]byte
	n, _ := f.ReadAt(head[:], 0)
	switch {
	case n >= 4 && bytes.Equal(head[:4], []byte("PK\x03\x04")), n >= 4 && bytes.Equal(head[:4], []byte("PK\x05\x06")):
		return FormatZip
	case n >= 2 && head[0] == 0x1f && head[1] == 0x8b:
		return FormatTarGz
	}
	var block [512]byte
	if n, _ := f.ReadAt(block[:], 0); n == 512 && string(block[257:262]) == "ustar" {
		return FormatTar
	}
	return ""
}

// entryKind is what an archive entry is.
type entryKind int

const (
	entryFile entryKind = iota
	entryDir
	entryLink // symbolic or hard link
	entryOther
)

// entry is one archive entry after its name was checked.
type entry struct {
	path   string // clean, relative, slash-separated
	kind   entryKind
	target string // for links: the clean path it points at
	perm   uint32
}

type unpacker struct {
	ctx      context.Context
	limits   Limits
	put      func(string, io.Reader) error
	spool    *os.File
	size     int64
	entries  int
	ignores  map[string][]byte // ignore file path → content
	ig       *ignorer
	files    []File
	links    []entry
	dirs     map[string]bool
	skipped  []Skipped
	written  int64 // bytes of kept files, as decompressed
	expanded int64 // all bytes decompressed
	put2     map[string]bool
	seen     map[string]bool
}

// cleanName checks an entry name and returns it clean, or a *PathError.
// Directory names may end in "/". Backslashes are taken as separators, as
// Windows tools write them.
func cleanName(name string) (string, error) {
	n := strings.ReplaceAll(name, "\\", "/")
	switch {
	case strings.ContainsRune(n, 0):
		return "", &PathError{name, "the entry name contains a NUL byte"}
	case strings.HasPrefix(n, "/") || (len(n) >= 2 && n[1] == ':'):
		return "", &PathError{name, "the entry has an absolute path"}
	}
	for _, part := range strings.Split(n, "/") {
		if part == ".." {
			return "", &PathError{name, "the entry path leaves the archive (..)"}
		}
	}
	c := path.Clean(n)
	if c == "." {
		return "", nil
	}
	return c, nil
}

// linkTarget resolves a link's target against the link's folder (symbolic)
// or the archive root (hard) and rejects targets that leave the tree.
func linkTarget(linkPath, target string, hard bool) (string, error) {
	t := strings.ReplaceAll(target, "\\", "/")
	if t == "" || strings.ContainsRune(t, 0) {
		return "", &PathError{linkPath, "the link has no valid target"}
	}
	if strings.HasPrefix(t, "/") || (len(t) >= 2 && t[1] == ':') {
		return "", &PathError{linkPath, fmt.Sprintf("the link points outside the archive (%s)", target)}
	}
	var j string
	if hard {
		j = path.Clean(t)
	} else {
		dir, _ := splitDir(linkPath)
		j = path.Join(dir, t)
	}
	if j == ".." || strings.HasPrefix(j, "../") {
		return "", &PathError{linkPath, fmt.Sprintf("the link points outside the archive (%s)", target)}
	}
	return j, nil
}

// note records one entry of the listing pass; it returns the entry to keep
// for the second pass, or ok=false.
func (u *unpacker) note(name string, kind entryKind, link string, hard bool, perm uint32) (entry, bool, error) {
	u.entries++
	if u.entries > u.limits.MaxEntries {
		return entry{}, false, &LimitError{Dir: "the archive", Files: u.entries, TooManyFiles: true, Limits: Limits{MaxFiles: u.limits.MaxEntries}}
	}
	p, err := cleanName(name)
	if err != nil {
		return entry{}, false, err
	}
	if p == "" {
		return entry{}, false, nil
	}
	e := entry{path: p, kind: kind, perm: perm}
	if kind == entryLink {
		if e.target, err = linkTarget(p, link, hard); err != nil {
			return entry{}, false, err
		}
	}
	if kind == entryDir {
		u.dirs[p] = true
	}
	return e, true, nil
}

// isIgnoreFile reports whether p is an ignore file worth reading.
func isIgnoreFile(p string) bool {
	_, name := splitDir(p)
	return name == AmlIgnoreFile || name == GitIgnoreFile
}

// keep decides, in the second pass, whether an entry goes into the snapshot.
func (u *unpacker) keep(e entry) bool {
	if u.ig.ignored(e.path, e.kind == entryDir) {
		return false
	}
	switch e.kind {
	case entryOther:
		u.skipped = append(u.skipped, Skipped{e.path, "not a regular file"})
		return false
	case entryDir:
		return false
	}
	return true
}

// store copies one kept file's content, counting the bytes, hashes it and
// hands it to put once per hash.
func (u *unpacker) store(e entry, r io.Reader) error {
	if u.seen[e.path] {
		return &PathError{e.path, "the archive holds this path twice"}
	}
	u.seen[e.path] = true
	if len(u.files)+1 > u.limits.MaxFiles {
		return &LimitError{Dir: "the archive", Files: len(u.files) + 1, Bytes: u.written, TooManyFiles: true, Limits: u.limits}
	}
	budget := u.limits.MaxBytes - u.written
	h := sha256.New()
	var buf bytes.Buffer
	var tmp *os.File
	var w io.Writer = &buf
	defer func() {
		if tmp != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	var n int64
	chunk := make([]byte, 32<<10)
	for {
		if err := u.ctx.Err(); err != nil {
			return err
		}
		k, rerr := r.Read(chunk)
		if k > 0 {
			n += int64(k)
			if n > budget {
				return &LimitError{Dir: "the archive", Files: len(u.files) + 1, Bytes: u.written + n, Limits: u.limits}
			}
			h.Write(chunk[:k])
			if tmp == nil && buf.Len()+k > memFileBytes {
				var err error
				if tmp, err = os.CreateTemp(u.limits.TempDir, "trainyard-blob-*"); err != nil {
					return err
				}
				if _, err := tmp.Write(buf.Bytes()); err != nil {
					return err
				}
				buf.Reset()
				w = tmp
			}
			if _, err := w.Write(chunk[:k]); err != nil {
				return err
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return fmt.Errorf("%w: %s: %v", ErrArchive, e.path, rerr)
		}
	}
	u.written += n
	sum := hex.EncodeToString(h.Sum(nil))
	u.files = append(u.files, File{Path: e.path, SHA256: sum, Size: n, Mode: fileMode(e.perm)})
	if u.put2[sum] {
		return nil
	}
	u.put2[sum] = true
	var content io.Reader = bytes.NewReader(buf.Bytes())
	if tmp != nil {
		if _, err := tmp.Seek(0, io.SeekStart); err != nil {
			return err
		}
		content = tmp
	}
	return u.put(sum, content)
}

// manifest resolves the links kept and returns the sorted manifest.
func (u *unpacker) manifest() (*Manifest, error) {
	byPath := make(map[string]File, len(u.files))
	for _, f := range u.files {
		byPath[f.Path] = f
	}
	linkOf := make(map[string]string, len(u.links))
	for _, l := range u.links {
		linkOf[l.path] = l.target
	}
	for _, l := range u.links {
		if u.seen[l.path] {
			return nil, &PathError{l.path, "the archive holds this path twice"}
		}
		u.seen[l.path] = true
		t := l.target
		for hops := 0; hops < maxSymlinkHops; hops++ {
			next, isLink := linkOf[t]
			if !isLink {
				break
			}
			t = next
		}
		f, ok := byPath[t]
		switch {
		case ok:
		case u.dirs[t]:
			u.skipped = append(u.skipped, Skipped{l.path, "a link to a folder (not followed)"})
			continue
		default:
			u.skipped = append(u.skipped, Skipped{l.path, "a link whose target is not a file in the snapshot"})
			continue
		}
		if len(u.files)+1 > u.limits.MaxFiles {
			return nil, &LimitError{Dir: "the archive", Files: len(u.files) + 1, Bytes: u.written, TooManyFiles: true, Limits: u.limits}
		}
		if u.written+f.Size > u.limits.MaxBytes {
			return nil, &LimitError{Dir: "the archive", Files: len(u.files) + 1, Bytes: u.written + f.Size, Limits: u.limits}
		}
		u.written += f.Size
		f.Path = l.path
		u.files = append(u.files, f)
	}
	sort.Slice(u.files, func(i, j int) bool { return u.files[i].Path < u.files[j].Path })
	if u.files == nil {
		u.files = []File{}
	}
	return &Manifest{Files: u.files, Skipped: u.skipped}, nil
}

func (u *unpacker) reset() {
	u.entries = 0
	u.ignores = map[string][]byte{}
	u.dirs = map[string]bool{}
	u.seen = map[string]bool{}
}

// zip reads a zip archive: the central directory lists the entries and
// the ignore files are read first, so ignored entries are never inflated.
func (u *unpacker) zip() error {
	zr, err := zip.NewReader(u.spool, u.size)
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) { // insecure names are rejected below, with the name
		return fmt.Errorf("%w: %v", ErrArchive, err)
	}
	u.reset()
	kept := make([]*zip.File, 0, len(zr.File))
	ents := make([]entry, 0, len(zr.File))
	for _, zf := range zr.File {
		mode := zf.Mode()
		kind := entryFile
		link := ""
		switch {
		case mode.IsDir() || strings.HasSuffix(zf.Name, "/"):
			kind = entryDir
		case mode&fs.ModeSymlink != 0:
			kind = entryLink
			t, err := u.readZipSmall(zf, 4096)
			if err != nil {
				return err
			}
			link = string(t)
		case !mode.IsRegular():
			kind = entryOther
		}
		e, ok, err := u.note(zf.Name, kind, link, false, uint32(mode.Perm()))
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		if kind == entryFile && isIgnoreFile(e.path) {
			data, err := u.readZipSmall(zf, maxIgnoreFileBytes)
			if err != nil {
				return err
			}
			u.ignores[e.path] = data
		}
		kept = append(kept, zf)
		ents = append(ents, e)
	}
	u.ig = chooseIgnoreFiles(u.ignores)
	for i, e := range ents {
		if !u.keep(e) {
			continue
		}
		if e.kind == entryLink {
			u.links = append(u.links, e)
			continue
		}
		rc, err := kept[i].Open()
		if err != nil {
			return fmt.Errorf("%w: %s: %v", ErrArchive, e.path, err)
		}
		err = u.store(e, u.countExpanded(rc))
		rc.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// readZipSmall reads a small entry (an ignore file, a link target), counting
// its bytes as expanded.
func (u *unpacker) readZipSmall(zf *zip.File, limit int64) ([]byte, error) {
	rc, err := zf.Open()
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrArchive, zf.Name, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(u.countExpanded(rc), limit))
	if err != nil {
		var le *LimitError
		if errors.As(err, &le) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %s: %v", ErrArchive, zf.Name, err)
	}
	return data, nil
}

// countExpanded counts every byte decompressed against MaxExpandedBytes.
func (u *unpacker) countExpanded(r io.Reader) io.Reader { return &expandCounter{u: u, r: r} }

type expandCounter struct {
	u *unpacker
	r io.Reader
}

// Read counts the bytes read and fails past MaxExpandedBytes.
func (c *expandCounter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.u.expanded += int64(n)
	if c.u.expanded > c.u.limits.MaxExpandedBytes {
		return n, &LimitError{Dir: "the archive (it expands to more than " + MB(c.u.limits.MaxExpandedBytes) + ")", Bytes: c.u.expanded, Limits: Limits{MaxBytes: c.u.limits.MaxExpandedBytes}}
	}
	return n, err
}

// tarStream opens the spooled tar (gzipped or not) from the start.
func (u *unpacker) tarStream(gz bool) (*tar.Reader, func(), error) {
	if _, err := u.spool.Seek(0, io.SeekStart); err != nil {
		return nil, nil, err
	}
	var r io.Reader = u.spool
	closeFn := func() {}
	if gz {
		zr, err := gzip.NewReader(u.spool)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: %v", ErrArchive, err)
		}
		r, closeFn = zr, func() { zr.Close() }
	}
	return tar.NewReader(u.countExpanded(r)), closeFn, nil
}

// tar reads a tar stream twice: once to list the entries and read the
// ignore files, once to store the files kept.
func (u *unpacker) tar(gz bool) error {
	u.reset()
	tr, closeFn, err := u.tarStream(gz)
	if err != nil {
		return err
	}
	var ents []entry
	for {
		if err := u.ctx.Err(); err != nil {
			closeFn()
			return err
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if errors.Is(err, tar.ErrInsecurePath) {
			err = nil // rejected below, with the name
		}
		if err != nil {
			closeFn()
			return tarErr(err)
		}
		e, ok, err := u.noteTar(hdr)
		if err != nil {
			closeFn()
			return err
		}
		if ok && e.kind == entryFile && isIgnoreFile(e.path) {
			data, err := io.ReadAll(io.LimitReader(tr, maxIgnoreFileBytes))
			if err != nil {
				closeFn()
				return tarErr(err)
			}
			u.ignores[e.path] = data
		}
		ents = append(ents, e) // one per header, ok or not, to keep the two passes aligned
	}
	closeFn()
	u.ig = chooseIgnoreFiles(u.ignores)
	u.expanded = 0
	tr, closeFn, err = u.tarStream(gz)
	if err != nil {
		return err
	}
	defer closeFn()
	for i := 0; ; i++ {
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if errors.Is(err, tar.ErrInsecurePath) {
			err = nil
		}
		if err != nil {
			return tarErr(err)
		}
		if i >= len(ents) || ents[i].path == "" {
			continue
		}
		e := ents[i]
		if hdr.Name != "" && e.path != mustClean(hdr.Name) {
			return fmt.Errorf("%w: the archive changed while it was read", ErrArchive)
		}
		if !u.keep(e) {
			continue
		}
		if e.kind == entryLink {
			u.links = append(u.links, e)
			continue
		}
		if err := u.store(e, tr); err != nil {
			return err
		}
	}
}

func mustClean(name string) string {
	p, _ := cleanName(name)
	return p
}

func tarErr(err error) error {
	var le *LimitError
	if errors.As(err, &le) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return fmt.Errorf("%w: %v", ErrArchive, err)
}

// noteTar lists one tar header. Entries that carry no file (pax headers
// read by archive/tar itself, the root folder) come back with an empty path.
func (u *unpacker) noteTar(hdr *tar.Header) (entry, bool, error) {
	kind := entryOther
	link := ""
	hard := false
	switch hdr.Typeflag {
	case tar.TypeReg, tar.TypeGNUSparse: // tar.Reader reports the old TypeRegA as TypeReg (or TypeDir)
		kind = entryFile
	case tar.TypeDir:
		kind = entryDir
	case tar.TypeSymlink:
		kind, link = entryLink, hdr.Linkname
	case tar.TypeLink:
		kind, link, hard = entryLink, hdr.Linkname, true
	case tar.TypeXGlobalHeader, tar.TypeXHeader, tar.TypeGNULongName, tar.TypeGNULongLink:
		return entry{}, false, nil
	}
	e, ok, err := u.note(hdr.Name, kind, link, hard, uint32(hdr.Mode)&0o777)
	if !ok {
		e.path = ""
	}
	return e, ok, err
}

package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// procSample is a process's memory and CPU time at one moment, read from /proc (Linux only).
type procSample struct {
	ok       bool
	rss, hwm int64   // VmRSS and VmHWM, bytes
	cpu      float64 // utime + stime, seconds
}

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat: 100 on every Linux that Go supports.
const clockTicks = 100

// procUsage samples process pid (0: this process). On error the sample is not ok.
func procUsage(pid int) procSample {
	dir := "/proc/self"
	if pid > 0 {
		dir = "/proc/" + strconv.Itoa(pid)
	}
	status, err := os.ReadFile(dir + "/status")
	if err != nil {
		return procSample{}
	}
	stat, err := os.ReadFile(dir + "/stat")
	if err != nil {
		return procSample{}
	}
	s := procSample{ok: true}
	s.rss, s.hwm = statusKB(string(status), "VmRSS")*1024, statusKB(string(status), "VmHWM")*1024
	cpu, err := statCPU(string(stat))
	if err != nil {
		return procSample{}
	}
	s.cpu = cpu
	return s
}

// statusKB returns the value of a "Name:   123 kB" line of /proc/<pid>/status, in kB; 0 when absent.
func statusKB(status, name string) int64 {
	for line := range strings.SplitSeq(status, "\n") {
		if v, ok := strings.CutPrefix(line, name+":"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	return 0
}

// statCPU returns utime+stime in seconds from a /proc/<pid>/stat line. The command name (field 2) may hold
// spaces and parentheses, so fields are counted after its last ')'.
func statCPU(stat string) (float64, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("malformed stat %.40q", stat)
	}
	f := strings.Fields(stat[i+1:]) // f[0] is field 3 (state); utime is field 14, stime 15
	if len(f) < 13 {
		return 0, fmt.Errorf("malformed stat %.40q", stat)
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("malformed stat %.40q", stat)
	}
	return float64(ut+st) / clockTicks, nil
}

// Command kstatus computes the kstatus of objects as Flux and kpt do, with the
// sigs.k8s.io/cli-utils status package: each line of standard input is an object as
// JSON; each line of standard output is {"status","message"} for it. Built by
// hack/build-controlplane.sh; the operator tests run it over live objects.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

type result struct {
	Status  string `json:"status"`
	Message string `json:"message"`
}

func main() {
	out := json.NewEncoder(os.Stdout)
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<24)
	for in.Scan() {
		obj := &unstructured.Unstructured{}
		if err := obj.UnmarshalJSON(in.Bytes()); err != nil {
			fmt.Fprintf(os.Stderr, "kstatus: an object: %v\n", err)
			os.Exit(2)
		}
		res, err := status.Compute(obj)
		if err != nil {
			_ = out.Encode(result{Status: "Error", Message: err.Error()})
			continue
		}
		_ = out.Encode(result{Status: res.Status.String(), Message: res.Message})
	}
	if err := in.Err(); err != nil {
		fmt.Fprintf(os.Stderr, "kstatus: reading standard input: %v\n", err)
		os.Exit(2)
	}
}

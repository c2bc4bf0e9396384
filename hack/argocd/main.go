// Command argocd-health runs Argo CD health checks with Argo CD's own code: the
// argocd-cm entries are read by Argo CD's settings manager (from a ConfigMap in a
// fake clientset, labelled as Argo CD selects it), the script for each object is
// found as Argo CD finds it (wildcard entries included), and run by Argo CD's Lua VM
// with the libraries Argo CD allows.
//
// Usage: argocd-health PATCH.yaml < objects.jsonl
//
// PATCH.yaml holds the `data` to merge into argocd-cm; each line of standard input
// is one object as JSON. Each line of standard output is {"status","message"} for
// the object of the same line (status "" when no script applies). Built by
// hack/build-controlplane.sh; tests/argocd.rs runs it.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"

	"github.com/argoproj/argo-cd/v2/util/lua"
	"github.com/argoproj/argo-cd/v2/util/settings"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes/fake"
	"sigs.k8s.io/yaml"
)

type result struct {
	Status  string `json:"status"`
	Message string `json:"message"`
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "argocd-health: "+format+"\n", args...)
	os.Exit(2)
}

func main() {
	if len(os.Args) != 2 {
		fail("usage: argocd-health PATCH.yaml < objects.jsonl")
	}
	text, err := os.ReadFile(os.Args[1])
	if err != nil {
		fail("%v", err)
	}
	var patch struct {
		Data map[string]string `json:"data"`
	}
	if err := yaml.Unmarshal(text, &patch); err != nil {
		fail("%s: %v", os.Args[1], err)
	}
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{
			Name:      "argocd-cm",
			Namespace: "argocd",
			Labels:    map[string]string{"app.kubernetes.io/part-of": "argocd"},
		},
		Data: patch.Data,
	}
	manager := settings.NewSettingsManager(context.Background(), fake.NewClientset(cm), "argocd")
	overrides, err := manager.GetResourceOverrides()
	if err != nil {
		fail("reading the resource overrides: %v", err)
	}
	out := json.NewEncoder(os.Stdout)
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<24)
	for in.Scan() {
		obj := &unstructured.Unstructured{}
		if err := obj.UnmarshalJSON(in.Bytes()); err != nil {
			fail("an object: %v", err)
		}
		vm := lua.VM{ResourceOverrides: overrides}
		script, useOpenLibs, err := vm.GetHealthScript(obj)
		if err != nil {
			fail("finding the script of %s: %v", obj.GetKind(), err)
		}
		if script == "" {
			_ = out.Encode(result{})
			continue
		}
		vm.UseOpenLibs = useOpenLibs
		status, err := vm.ExecuteHealthLua(obj, script)
		if err != nil {
			_ = out.Encode(result{Status: "Error", Message: err.Error()})
			continue
		}
		_ = out.Encode(result{Status: string(status.Status), Message: status.Message})
	}
	if err := in.Err(); err != nil {
		fail("reading standard input: %v", err)
	}
}

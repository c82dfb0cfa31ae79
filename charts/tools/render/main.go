// Command render prints the manifests of a Helm chart without a Helm binary, for CI machines
// where Helm cannot be installed. It executes templates/*.yaml with Go's text/template, the
// Sprig functions (github.com/Masterminds/sprig, as Helm uses) and a small copy of Helm's
// built-ins: include, tpl, required, toYaml, fromYaml, toJson, .Values, .Release, .Chart and a
// minimal .Capabilities.
//
// It builds from Debian's packaged Go sources without a module download:
//
//	apt-get install golang-go golang-github-masterminds-sprig-dev golang-gopkg-yaml.v3-dev
//	GO111MODULE=off GOPATH=/usr/share/gocode go build -o render .
//
// Usage:
//
//	render -chart DIR [-f values.yaml]... [-release NAME] [-namespace NS] [-api-versions a/v1,b/v1]
//
// NOTE: this is not Helm. It does not validate values.schema.json, check Chart.yaml, sort
// resources by kind, render NOTES.txt or subcharts, or support lookup and .Files.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/template"

	"github.com/Masterminds/sprig"
	"gopkg.in/yaml.v3"
)

type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

// apiVersions mirrors Helm's .Capabilities.APIVersions: Has reports whether a group/version
// (or group/version/Kind) was passed with -api-versions or is built in.
type apiVersions []string

func (a apiVersions) Has(version string) bool {
	for _, v := range a {
		if v == version {
			return true
		}
	}
	return false
}

func main() {
	chartDir := flag.String("chart", "", "chart folder (contains Chart.yaml, values.yaml and templates/)")
	releaseName := flag.String("release", "release-name", "release name (.Release.Name)")
	namespace := flag.String("namespace", "default", "release namespace (.Release.Namespace)")
	apiVersionList := flag.String("api-versions", "", "comma-separated extra API versions for .Capabilities.APIVersions.Has")
	var valueFiles stringList
	flag.Var(&valueFiles, "f", "values file merged over values.yaml; repeatable, later files win")
	flag.Parse()

	if *chartDir == "" {
		fmt.Fprintln(os.Stderr, "render: missing -chart DIR")
		os.Exit(2)
	}

	output, err := render(*chartDir, valueFiles, *releaseName, *namespace, *apiVersionList)
	if err != nil {
		fmt.Fprintf(os.Stderr, "render: %v\n", err)
		os.Exit(1)
	}

	os.Stdout.WriteString(output)
}

func render(chartDir string, valueFiles []string, releaseName, namespace, apiVersionList string) (string, error) {
	chart, err := readYamlMap(filepath.Join(chartDir, "Chart.yaml"))
	if err != nil {
		return "", err
	}

	values, err := readYamlMap(filepath.Join(chartDir, "values.yaml"))
	if err != nil {
		return "", err
	}

	for _, file := range valueFiles {
		override, err := readYamlMap(file)
		if err != nil {
			return "", err
		}
		values = mergeValues(values, override)
	}

	// Helm reads values through JSON, so every number in them is a float64.
	values = numbersAsFloats(values).(map[string]interface{})

	// The built-in API versions are the ones a current cluster serves for the kinds charts use.
	versions := apiVersions{"v1", "apps/v1", "policy/v1", "autoscaling/v2", "networking.k8s.io/v1"}
	if apiVersionList != "" {
		versions = append(versions, strings.Split(apiVersionList, ",")...)
	}

	// Templates are named as Helm names them, so include (print $.Template.BasePath "/x.yaml") works.
	basePath := filepath.Base(filepath.Clean(chartDir)) + "/templates"
	top := map[string]interface{}{
		"Values": values,
		"Chart":  chartObject(chart),
		"Release": map[string]interface{}{
			"Name":      releaseName,
			"Namespace": namespace,
			"Service":   "Helm",
			"IsInstall": true,
			"IsUpgrade": false,
			"Revision":  1,
		},
		"Capabilities": map[string]interface{}{
			"APIVersions": versions,
			"KubeVersion": map[string]interface{}{"Version": "v1.30.0", "Major": "1", "Minor": "30", "GitVersion": "v1.30.0"},
		},
		"Template": map[string]interface{}{"BasePath": basePath},
	}

	root := template.New("chart").Option("missingkey=zero")
	root.Funcs(funcMap(root))

	templateFiles, err := filepath.Glob(filepath.Join(chartDir, "templates", "*"))
	if err != nil {
		return "", err
	}
	sort.Strings(templateFiles)

	for _, file := range templateFiles {
		base := filepath.Base(file)
		if !strings.HasSuffix(base, ".yaml") && !strings.HasSuffix(base, ".tpl") {
			continue
		}
		text, err := os.ReadFile(file)
		if err != nil {
			return "", err
		}
		if _, err := root.New(basePath + "/" + base).Parse(string(text)); err != nil {
			return "", err
		}
	}

	var output strings.Builder
	for _, file := range templateFiles {
		base := filepath.Base(file)
		if strings.HasPrefix(base, "_") || !strings.HasSuffix(base, ".yaml") {
			continue
		}
		var buffer bytes.Buffer
		if err := root.ExecuteTemplate(&buffer, basePath+"/"+base, top); err != nil {
			return "", err
		}

		// Helm drops templates that render to whitespace only.
		manifest := strings.TrimSpace(buffer.String())
		if manifest == "" {
			continue
		}
		output.WriteString("---\n# Source: templates/" + base + "\n")
		output.WriteString(strings.ReplaceAll(manifest, "<no value>", ""))
		output.WriteString("\n")
	}

	return output.String(), nil
}

// funcMap returns Sprig's functions plus the Helm built-ins that need the template set.
func funcMap(root *template.Template) template.FuncMap {
	functions := sprig.TxtFuncMap()
	functions["include"] = func(name string, data interface{}) (string, error) {
		var buffer bytes.Buffer
		err := root.ExecuteTemplate(&buffer, name, data)
		return buffer.String(), err
	}
	functions["tpl"] = func(text string, data interface{}) (string, error) {
		clone, err := root.Clone()
		if err != nil {
			return "", err
		}
		parsed, err := clone.New("tpl").Parse(text)
		if err != nil {
			return "", err
		}
		var buffer bytes.Buffer
		err = parsed.Execute(&buffer, data)
		return buffer.String(), err
	}
	functions["required"] = func(message string, value interface{}) (interface{}, error) {
		if value == nil {
			return nil, errors.New(message)
		}
		if text, ok := value.(string); ok && text == "" {
			return nil, errors.New(message)
		}
		return value, nil
	}
	functions["toYaml"] = func(value interface{}) string {
		var buffer bytes.Buffer
		encoder := yaml.NewEncoder(&buffer)
		encoder.SetIndent(2)
		if err := encoder.Encode(value); err != nil {
			return ""
		}
		return strings.TrimSuffix(buffer.String(), "\n")
	}
	functions["fromYaml"] = func(text string) map[string]interface{} {
		result := map[string]interface{}{}
		if err := yaml.Unmarshal([]byte(text), &result); err != nil {
			result["Error"] = err.Error()
		}
		return result
	}
	functions["lookup"] = func(string, string, string, string) map[string]interface{} {
		return map[string]interface{}{}
	}
	return functions
}

func chartObject(chart map[string]interface{}) map[string]interface{} {
	result := map[string]interface{}{}
	for key, value := range chart {
		if key == "" {
			continue
		}
		// Helm exposes Chart.yaml fields capitalised: name → .Chart.Name, appVersion → .Chart.AppVersion.
		result[strings.ToUpper(key[:1])+key[1:]] = value
	}
	return result
}

func readYamlMap(path string) (map[string]interface{}, error) {
	text, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	result := map[string]interface{}{}
	if err := yaml.Unmarshal(text, &result); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return result, nil
}

// numbersAsFloats converts every integer in value to float64, recursively.
func numbersAsFloats(value interface{}) interface{} {
	switch typed := value.(type) {
	case int:
		return float64(typed)
	case map[string]interface{}:
		for key, item := range typed {
			typed[key] = numbersAsFloats(item)
		}
		return typed
	case []interface{}:
		for index, item := range typed {
			typed[index] = numbersAsFloats(item)
		}
		return typed
	default:
		return value
	}
}

// mergeValues returns base with override merged in, as Helm merges values files: maps merge key
// by key, any other value (lists included) is replaced, and a null in override deletes the key.
func mergeValues(base, override map[string]interface{}) map[string]interface{} {
	result := map[string]interface{}{}
	for key, value := range base {
		result[key] = value
	}
	for key, value := range override {
		if value == nil {
			delete(result, key)
			continue
		}
		baseMap, baseIsMap := result[key].(map[string]interface{})
		overrideMap, overrideIsMap := value.(map[string]interface{})
		if baseIsMap && overrideIsMap {
			result[key] = mergeValues(baseMap, overrideMap)
			continue
		}
		result[key] = value
	}
	return result
}

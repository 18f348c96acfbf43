package main

import (
	"reflect"
	"testing"
)

// TestExampleConfigIsTheDefault keeps the shipped example config true.
func TestExampleConfigIsTheDefault(t *testing.T) {
	got, err := loadConfig("../../livestream.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want, err := loadConfig("")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("livestream.example.yaml differs from the embedded defaults:\n got  %+v\n want %+v", got, want)
	}
}

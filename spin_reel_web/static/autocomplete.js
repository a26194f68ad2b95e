// Title autocomplete for inputs marked data-autocomplete (ARIA 1.2 combobox with a listbox popup).
// "navigate" opens the chosen movie's page; "pick" adds a ticked "liked" checkbox to the list named by data-target.
(function () {
  "use strict";

  function setUp(input) {
    var listbox = document.getElementById(input.getAttribute("aria-controls"));
    var status = input.form.querySelector("[data-autocomplete-status]");
    var results = [];
    var active = -1;
    var timer = null;
    var pending = null;

    function announce(text) {
      if (status) status.textContent = text;
    }

    function close() {
      listbox.hidden = true;
      input.setAttribute("aria-expanded", "false");
      input.removeAttribute("aria-activedescendant");
      active = -1;
    }

    function label(movie) {
      return movie.year ? movie.title + " (" + movie.year + ")" : movie.title;
    }

    function render(movies) {
      results = movies;
      active = -1;
      listbox.replaceChildren();
      movies.forEach(function (movie, index) {
        var option = document.createElement("li");
        option.id = listbox.id + "-" + index;
        option.setAttribute("role", "option");
        option.setAttribute("aria-selected", "false");
        option.dataset.index = String(index);
        option.textContent = label(movie);
        listbox.appendChild(option);
      });
      if (movies.length) {
        listbox.hidden = false;
        input.setAttribute("aria-expanded", "true");
      } else {
        close();
      }
      announce(movies.length ? movies.length + " suggestions, use the arrow keys to choose." : "No matching titles.");
    }

    function highlight(index) {
      var options = listbox.querySelectorAll("[role=option]");
      if (!options.length) return;
      active = (index + options.length) % options.length;
      options.forEach(function (option, i) {
        option.setAttribute("aria-selected", i === active ? "true" : "false");
      });
      input.setAttribute("aria-activedescendant", options[active].id);
      options[active].scrollIntoView({ block: "nearest" });
    }

    function pick(movie) {
      var list = document.querySelector(input.dataset.target);
      var existing = list.querySelector('input[value="' + movie.tmdb_id + '"]');
      if (existing) {
        existing.checked = true;
      } else {
        var item = document.createElement("li");
        var labelElement = document.createElement("label");
        var box = document.createElement("input");
        box.type = "checkbox";
        box.name = "liked";
        box.value = String(movie.tmdb_id);
        box.checked = true;
        labelElement.appendChild(box);
        labelElement.appendChild(document.createTextNode(" " + label(movie)));
        item.appendChild(labelElement);
        list.appendChild(item);
      }
      var empty = document.getElementById("liked-empty");
      if (empty) empty.remove();
      input.value = "";
      announce("Added " + label(movie) + " to the movies you like.");
    }

    function choose(index) {
      var movie = results[index];
      if (!movie) return;
      close();
      if (input.dataset.autocomplete === "pick") {
        pick(movie);
      } else {
        window.location.assign(input.dataset.movieUrl.replace("ID", String(movie.tmdb_id)));
      }
    }

    function search() {
      var query = input.value.trim().slice(0, 100);
      if (!query) {
        close();
        return;
      }
      if (pending) pending.abort();
      pending = new AbortController();
      fetch(input.dataset.source + "?n=8&q=" + encodeURIComponent(query), {
        signal: pending.signal,
        headers: { Accept: "application/json" },
      })
        .then(function (response) {
          return response.ok ? response.json() : { results: [] };
        })
        .then(function (body) {
          render(body.results || []);
        })
        .catch(function (error) {
          if (error.name !== "AbortError") close();
        });
    }

    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(search, 150);
    });
    input.addEventListener("keydown", function (event) {
      var open = !listbox.hidden;
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        if (!open) return;
        event.preventDefault();
        highlight(active + (event.key === "ArrowDown" ? 1 : -1));
      } else if (event.key === "Enter" && open && active >= 0) {
        event.preventDefault();
        choose(active);
      } else if (event.key === "Escape" && open) {
        event.preventDefault();
        close();
      }
    });
    input.addEventListener("blur", function () {
      setTimeout(close, 150);
    });
    // Keep the focus in the input while clicking an option.
    listbox.addEventListener("mousedown", function (event) {
      event.preventDefault();
    });
    listbox.addEventListener("click", function (event) {
      var option = event.target.closest("[role=option]");
      if (option) choose(Number(option.dataset.index));
    });
  }

  document.querySelectorAll("input[data-autocomplete]").forEach(setUp);
})();
